//! Text files written into the tree: PowerShell module manifests, setup and servicing logs,
//! `drivers/etc` files, a PowerShell history and a `.reg` export, as Windows writes them.

use crate::shared::rng::{HEX, Prng};

/// A PowerShell module manifest.
pub(super) fn module_manifest(
    rng: &mut Prng,
    module: &str,
    version: &str,
    functions: &[&str],
) -> String {
    let guid = format!(
        "{}-{}-{}-{}-{}",
        rng.chars(HEX, 8),
        rng.chars(HEX, 4),
        rng.chars(HEX, 4),
        rng.chars(HEX, 4),
        rng.chars(HEX, 12)
    );
    let functions = functions
        .iter()
        .map(|f| format!("'{f}'"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "@{{\nGUID = '{guid}'\nAuthor = 'Microsoft Corporation'\nCompanyName = 'Microsoft Corporation'\n\
         Copyright = '(c) Microsoft Corporation. All rights reserved.'\nModuleVersion = '{version}'\n\
         PowerShellVersion = '3.0'\nRootModule = '{module}.psm1'\nFunctionsToExport = @({functions})\n\
         CmdletsToExport = @()\nAliasesToExport = @()\nHelpInfoURI = 'https://go.microsoft.com/fwlink/?linkid=390807'\n}}\n"
    )
}

/// A timestamp in November 2026 for log line `i` of `n`.
pub(super) fn stamp(i: u64, n: u64) -> String {
    let seconds = i * 86_400 / n.max(1);
    format!(
        "2026-11-02 {:02}:{:02}:{:02}",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    )
}

/// Windows' component servicing log.
pub(super) fn cbs_log(rng: &mut Prng, n: u64) -> String {
    const COMPONENTS: [&str; 8] = [
        "microsoft-windows-servicingstack",
        "microsoft-windows-shell32",
        "microsoft-windows-kernel32",
        "microsoft-windows-defender-core",
        "microsoft-windows-powershell-exe",
        "microsoft-windows-tcpip",
        "microsoft-windows-explorer",
        "microsoft-windows-netfx4-machineconfig",
    ];
    let mut out = String::new();
    for i in 0..n {
        let component = COMPONENTS[rng.index(COMPONENTS.len())];
        let build = 2000 + rng.below(1500);
        let line = match rng.below(5) {
            0 => format!(
                "Info                  CBS    Loaded Servicing Stack v10.0.22621.{build} with Core: C:\\Windows\\winsxs\\amd64_{component}_31bf3856ad364e35_10.0.22621.{build}_none_{}\\cbscore.dll",
                rng.chars(HEX, 16)
            ),
            1 => format!(
                "Info                  CSI    {:08x} [SR] Verifying 100 components",
                rng.below(1 << 32)
            ),
            2 => format!(
                "Info                  CBS    Read out cached package applicability for package: Package_for_RollupFix~31bf3856ad364e35~amd64~~22621.{build}.1.{}, ApplicableState: 112, CurrentState:112",
                rng.below(20)
            ),
            3 => "Info                  CBS    TI: --- Initializing Trusted Installer ---".into(),
            _ => format!(
                "Info                  CSI    {:08x} Hashes for file member [l:{}]'{component}.dll' do not match.",
                rng.below(1 << 32),
                component.len() + 4
            ),
        };
        out.push_str(&format!("{}, {line}\n", stamp(i, n)));
    }
    out
}

/// DISM's log.
pub(super) fn dism_log(rng: &mut Prng, n: u64) -> String {
    let mut out = String::new();
    for i in 0..n {
        let pid = 4000 + rng.below(4000);
        let tid = 4000 + rng.below(4000);
        let line = match rng.below(3) {
            0 => "Info                  DISM   DISM Provider Store: PID={pid} TID={tid} Getting Provider OSServices - CDISMProviderStore::GetProvider".to_string(),
            1 => "Info                  DISM   DISM Package Manager: PID={pid} TID={tid} Finalizing CBS core. - CDISMPackageManager::Finalize".to_string(),
            _ => "Info                  DISM   API: PID={pid} TID={tid} Enter DismGetFeaturesInternal".to_string(),
        }
        .replace("{pid}", &pid.to_string())
        .replace("{tid}", &tid.to_string());
        out.push_str(&format!("{}, {line}\n", stamp(i, n)));
    }
    out
}

/// Windows Setup's action log.
pub(super) fn setup_log(rng: &mut Prng, n: u64) -> String {
    const LINES: [&str; 5] = [
        "Info                  [windeploy.exe] Process exited with exit code [0x00000000]",
        "Info                  SYSPRP Sysprep_Clean_Validate_Opk: There are no PBR OPK folders to be cleaned",
        "Info                  [Shell Unattend] Running 'oobeSystem' pass",
        "Info                  PnPIBS: Checking for pre-configured driver paths ...",
        "Info                  MIG    Gather started in online mode.",
    ];
    let mut out = String::new();
    for i in 0..n {
        out.push_str(&format!(
            "{}, {}\n",
            stamp(i, n),
            LINES[rng.index(LINES.len())]
        ));
    }
    out
}

/// The device installation log.
pub(super) fn setupapi_log(rng: &mut Prng, n: u64) -> String {
    let mut out = String::from(
        "[Device Install Log]\n     OS Version = 10.0.22621\n     Service Pack = 0.0\n     Suite = 0x0100\n     ProductType = 1\n     Architecture = amd64\n\n",
    );
    for i in 0..n {
        out.push_str(&format!(
            ">>>  [Device Install (Hardware initiated) - PCI\\VEN_8086&DEV_{:04X}&SUBSYS_{:08X}&REV_{:02X}\\3&11583659&0&{:02X}]\n>>>  Section start {}.{:03}\n     dvi: Selected driver installs from section [{}] in 'c:\\windows\\system32\\driverstore\\filerepository\\machine.inf_amd64_{}\\machine.inf'.\n<<<  Section end {}\n<<<  [Exit status: SUCCESS]\n\n",
            rng.below(0x10000),
            rng.below(1 << 32),
            rng.below(256),
            rng.below(256),
            stamp(i, n).replace('-', "/"),
            rng.below(1000),
            ["PCI_DRV", "NO_DRV", "MSISADRV", "PCI_DRV_ROOT"][rng.index(4)],
            rng.chars(HEX, 16),
            stamp(i, n).replace('-', "/"),
        ));
    }
    out
}

/// Inbox PowerShell modules: name, version, a few of their functions.
pub(super) const INBOX_MODULES: &[(&str, &str, &[&str])] = &[
    (
        "Microsoft.PowerShell.Archive",
        "1.0.1.0",
        &["Compress-Archive", "Expand-Archive"],
    ),
    (
        "NetTCPIP",
        "1.0.0.0",
        &["Get-NetIPAddress", "Get-NetRoute", "Test-NetConnection"],
    ),
    (
        "SmbShare",
        "2.0.0.0",
        &["Get-SmbShare", "New-SmbShare", "Get-SmbConnection"],
    ),
    (
        "Defender",
        "1.0",
        &["Get-MpComputerStatus", "Start-MpScan", "Update-MpSignature"],
    ),
    (
        "ScheduledTasks",
        "1.0.0.0",
        &["Get-ScheduledTask", "Register-ScheduledTask"],
    ),
    ("BitLocker", "1.0.0.0", &["Get-BitLockerVolume"]),
    (
        "Storage",
        "2.0.0.0",
        &["Get-Disk", "Get-Volume", "Get-Partition"],
    ),
];

/// Modules under `Program Files/WindowsPowerShell/Modules`.
pub(super) const PROGRAM_FILES_MODULES: &[(&str, &str, &[&str])] = &[
    (
        "PackageManagement",
        "1.0.0.1",
        &["Find-Package", "Install-Package", "Get-PackageProvider"],
    ),
    (
        "PowerShellGet",
        "1.0.0.1",
        &["Find-Module", "Install-Module", "Publish-Module"],
    ),
    ("Pester", "3.4.0", &["Describe", "Context", "It", "Should"]),
    (
        "PSReadline",
        "2.0.0",
        &["Get-PSReadLineOption", "Set-PSReadLineOption"],
    ),
];

/// `drivers/etc/hosts` as Windows ships it.
pub(super) const HOSTS: &str = "# Copyright (c) 1993-2009 Microsoft Corp.
#
# This is a sample HOSTS file used by Microsoft TCP/IP for Windows.
#
# This file contains the mappings of IP addresses to host names. Each
# entry should be kept on an individual line. The IP address should
# be placed in the first column followed by the corresponding host name.
# The IP address and the host name should be separated by at least one
# space.
#
# Additionally, comments (such as these) may be inserted on individual
# lines or following the machine name denoted by a '#' symbol.
#
# For example:
#
#      102.54.94.97     rhino.acme.com          # source server
#       38.25.63.10     x.acme.com              # x client host

# localhost name resolution is handled within DNS itself.
#\t127.0.0.1       localhost
#\t::1             localhost
";

/// The head of `drivers/etc/services`.
pub(super) const SERVICES_HEADER: &str = "# Copyright (c) 1993-2004 Microsoft Corp.
#
# This file contains port numbers for well-known services defined by IANA
#
# Format:
#
# <service name>  <port number>/<protocol>  [aliases...]   [#<comment>]
#

";

/// The head of `drivers/etc/protocol`.
pub(super) const PROTOCOL_HEADER: &str = "# Copyright (c) 1993-2006 Microsoft Corp.
#
# This file contains the Internet protocols as defined by various
# RFCs.  See http://www.iana.org/assignments/protocol-numbers
#
# Format:
#
# <protocol name>  <assigned number>  [aliases...]   [#<comment>]

";

/// `drivers/etc/networks`.
pub(super) const NETWORKS: &str = "# Copyright (c) 1993-1999 Microsoft Corp.
#
# This file contains network name/network number mappings for
# local networks. Network numbers are recognized in dotted decimal form.
#
# Format:
#
# <network name>  <network number>     [aliases...]  [#<comment>]
#
# For example:
#
#    loopback     127
#    campus       284.122.107
#    london       284.122.108

loopback                 127
";

/// `drivers/etc/lmhosts.sam`, shortened.
pub(super) const LMHOSTS: &str = "# Copyright (c) 1993-1999 Microsoft Corp.
#
# This is a sample LMHOSTS file used by the Microsoft TCP/IP for Windows.
#
# This file contains the mappings of IP addresses to computernames
# (NetBIOS) names.  Each entry should be kept on an individual line.
# The IP address should be placed in the first column followed by the
# corresponding computername.
#
# 102.54.94.97     rhino         #PRE #DOM:networking  #net group's DC
# 102.54.94.102    \"appname  \\0x14\"                    #special app server
# 102.54.94.123    popular            #PRE             #source server
# 102.54.94.117    localsrv           #PRE             #needed for the include
";

/// An ordinary PowerShell history, without a secret.
pub(super) const HISTORY: &str = "Get-ChildItem
cd .\\Documents\\
Get-Service | Where-Object Status -eq Running
ipconfig /all
Test-NetConnection example.com -Port 443
winget upgrade --all
python -m pip install --upgrade pip
py -3.11 -m venv .venv
.\\.venv\\Scripts\\Activate.ps1
pip install requests pyyaml
npm install -g esbuild
esbuild --version
Get-ComputerInfo | Select-Object OsName, OsVersion
Get-Volume
Get-Content $env:USERPROFILE\\.gitconfig
Get-ExecutionPolicy -List
Set-ExecutionPolicy -Scope CurrentUser RemoteSigned
Get-Process | Sort-Object CPU -Descending | Select-Object -First 10
Restart-Computer
";

/// A `.reg` export of Explorer settings, as regedit writes it (UTF-16LE).
pub(super) const REG_EXPORT: &str = "Windows Registry Editor Version 5.00

[HKEY_CURRENT_USER\\Software\\Microsoft\\Windows\\CurrentVersion\\Explorer\\Advanced]
\"Hidden\"=dword:00000001
\"HideFileExt\"=dword:00000000
\"ShowSuperHidden\"=dword:00000000
\"LaunchTo\"=dword:00000001
\"TaskbarAl\"=dword:00000000
\"Start_TrackDocs\"=dword:00000001

[HKEY_CURRENT_USER\\Software\\Microsoft\\Windows\\CurrentVersion\\Themes\\Personalize]
\"AppsUseLightTheme\"=dword:00000000
\"SystemUsesLightTheme\"=dword:00000000
\"EnableTransparency\"=dword:00000001

[HKEY_CURRENT_USER\\Control Panel\\Desktop]
\"WallPaper\"=\"C:\\\\Windows\\\\Web\\\\Wallpaper\\\\Windows\\\\img0.jpg\"
\"ScreenSaveActive\"=\"1\"
";
