//! Keys generated for these tests with the real tools (no one's real key), each named with
//! the command that made it. Throwaway passphrases are `test1234`.

/// `openssl genrsa -traditional 512`.
pub(super) const RSA_512_PKCS1: &str = "\
-----BEGIN RSA PRIVATE KEY-----\n\
MIIBOgIBAAJBAMA4kO2J2IF+1RrtqfsL8ezox+HqQmi5Gm3pnKy73PxkRSvpJb9v\n\
fJwpIJXZquK31u7cZ5RkLS8P3szUhsdmSj8CAwEAAQJAUgfR0Y1CGAFIcHV8VOaE\n\
F9Y/dunB7W8RGFbZxd1mMU7a4WF9bgVgagERjjb2Ur1o7t+NZyEoVKKK+SwfIW4K\n\
AQIhAPXGs6vfDRa83i1s3t4X4EIQgG08Wy6c+8uq+vvy9tIlAiEAyDeMeuf5Z8gj\n\
vbYVHrefYhVZFTrndit2M68csDKhc5MCIBohnkjP1lxsiFLcGHYUo8tiZcU3fZpf\n\
JoZpD3ZqRsPhAiA8cZCmdiu0KhaoKjUcDeE/EiTPpPXFlf9cQQxPISneowIhAJ3B\n\
9SuiLWQ6O4ehPeDFJhTtFbVys33lvG6S2G+88a/T\n\
-----END RSA PRIVATE KEY-----";

/// `openssl rsa -traditional -aes128` of RSA_512_PKCS1, passphrase `test1234`.
pub(super) const RSA_512_PKCS1_ENCRYPTED: &str = "\
-----BEGIN RSA PRIVATE KEY-----\n\
Proc-Type: 4,ENCRYPTED\n\
DEK-Info: AES-128-CBC,CB546009C87B35183DAF72B8BBAAB7E6\n\
\n\
xGt9DqLNohWsohnkvRHmnAAaFLyNUW6qYNW7foEwL7uPgGd9fZNMhm4cEgqAiPDJ\n\
/Wv5ZpBglTca6JJyU6zgrVVKmHGUkiU1GEK9GM4CEkdVo++jQE0tGMrFconHm1BI\n\
18NjeA1Vy3hetr2NAEriVZBgWN05WqTGDbDySKjO1eSSv/8r3maHopwAqpf2nqFo\n\
OcWovrgZsVoktzisaowWlEKkmoZAJw6F2yYuxeSseozt5yi0xxyq53hBbSRIw2oG\n\
gVGKDTCqIuodmQhhLLQvxlNIOvTbqRjJzFJSCW9wUr8f+mSDbJu3Hum0WlBNFnWZ\n\
8+SRXalk92w7Pj+VPM9SVtwmsI/fxVaVpwIVNpE5aTb09HoPJBorXhmWeS6uyGzK\n\
PLIjzrxs0p3dsOcdAZIaXGo60PtDa6orurLm1bCalqM=\n\
-----END RSA PRIVATE KEY-----";

/// `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:512`.
pub(super) const RSA_512_PKCS8: &str = "\
-----BEGIN PRIVATE KEY-----\n\
MIIBVQIBADANBgkqhkiG9w0BAQEFAASCAT8wggE7AgEAAkEAwGveGFJZp+GPnErz\n\
S3QcT9hLZzAWsHzTIXBqurbF8loMm8xmqGbnG+PnIWaB/547NBQmIhAardE/BDqa\n\
QgJXpQIDAQABAkBOv5Z8M6+Xgjtoxk+9kH5JuwZY65hNkDhD1iMH2Oc34CXEnCGv\n\
Ju0GYvJuQDUAETM7PYywOPZ56WYFFkatOD+BAiEA991Pu7l1jfbx/COPNrUZetkM\n\
oKxalppagXuZjvpk+cUCIQDGvLGK+Yz7vvC+5JRYQoIzOPnL8MNvX+i0mF2VfiAk\n\
YQIgFg6TsdjnJSL8lbt0WyHyioQWI5Yy2YQS2cLt/1M4+SECIQCv/mgnz2kXg3cF\n\
Rb1ND9DndZxZC2S3G7MjQw8VFPV34QIhAMTAXRGu+l9V/C54u/D2qgnfOkMknouQ\n\
PBHzVTIWrpuR\n\
-----END PRIVATE KEY-----";

/// `openssl ecparam -name prime256v1 -genkey -noout`.
pub(super) const EC_P256_SEC1: &str = "\
-----BEGIN EC PRIVATE KEY-----\n\
MHcCAQEEIEnmW6wCLq7pVAJtj923W3AhpKZ0AeEFOQg77IG4pfhHoAoGCCqGSM49\n\
AwEHoUQDQgAEx3xyMUYuiVuPpSCkmn0yphMQA/EVqWP2E/a9cDCLZlhL6AfPz0Cc\n\
gXb6rYnA3lKjBiU+aj/oMwZzLOHbbF3YWQ==\n\
-----END EC PRIVATE KEY-----";

/// `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256`.
pub(super) const EC_P256_PKCS8: &str = "\
-----BEGIN PRIVATE KEY-----\n\
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQge5ovGI+dlOPvrM51\n\
VDNkz4xOVBwP4+iZT5A9+1wEUHChRANCAARNsiLBSiMVchMc0vAKZdJ72A1kTwwY\n\
e62WWO0ysSs7SVdXkT2q/K0KAqHd44OcR3Swuu5G6H/ZGm0zfqttLxly\n\
-----END PRIVATE KEY-----";

/// `openssl genpkey -algorithm ed25519`.
pub(super) const ED25519_PKCS8: &str = "\
-----BEGIN PRIVATE KEY-----\n\
MC4CAQAwBQYDK2VwBCIEIDwxI47EBVgnpy8m+LQ5pNnlD5gp/44rFC0YoTxs/YoQ\n\
-----END PRIVATE KEY-----";

/// `openssl genpkey -algorithm X25519`.
pub(super) const X25519_PKCS8: &str = "\
-----BEGIN PRIVATE KEY-----\n\
MC4CAQAwBQYDK2VuBCIEIEjxnMmwc9Y88DiNsXTHZD92Q6Fyqdb1/xgyya2Xv658\n\
-----END PRIVATE KEY-----";

/// `openssl dsaparam 1024`, `openssl gendsa`, `openssl pkey -traditional`.
pub(super) const DSA_1024: &str = "\
-----BEGIN DSA PRIVATE KEY-----\n\
MIIBzAIBAAKBgQDBJ5WIB0LVGXRKVxMLfAVyj+GvI7NzAAkAjEdFVbQGUuZQaSXN\n\
HJnHugW4ITBxq+CXysPOztpTvOD3eC/NdpK3ZJGnyy16jjEE8iMl7L2XlYoT8nMH\n\
X6e5Ks1PETx96zdNCxO94JNn8J/kyIyFLoGehSlFKmSobnkaf03SwOoJyQIdALC1\n\
bpRsIWweh2IKyM6Spzhr/JkWWVZjgqbEs10CgYEAozVPlGBHkhHyo0kRC2B3/oEP\n\
KqcqJgvslny5PPOJVbXDKF8qKAZDNv81mzWFYQ1XngIalPFod8IH+V/RQxskUESu\n\
g7cXkdQUZGiChM8Fk66+I+qHaFO8SIKH0j9VtZP/vRDH25xQUq76hR4ZvnbBSp9W\n\
7NB7oVw/tDyc7Yi1peICgYAoMGNQ6oVEYTMIoSg+SBodxk++HpiTL6XVL0CZSVou\n\
3m5XYZei3xRfwMtO4flcpdVhFI6whnV9j1+h78Qf4dn0nX5p4Jrkq0rgLlUcVFhX\n\
h0DgSD1rO0Y5A/TU1Mal8bOGuFxalLC6gvaKyZIsZlNe33n1kR/M5bjn67Y9EdPs\n\
zgIdAKYuYQWilEmxbNwzcKmNplyK/Yb+iZp2W+pjnRw=\n\
-----END DSA PRIVATE KEY-----";

/// `openssl pkcs8 -topk8 -v2 aes-256-cbc` of ED25519_PKCS8, passphrase `test1234`.
pub(super) const ED25519_PKCS8_ENCRYPTED: &str = "\
-----BEGIN ENCRYPTED PRIVATE KEY-----\n\
MIGbMFcGCSqGSIb3DQEFDTBKMCkGCSqGSIb3DQEFDDAcBAhtZhS1n3oaqgICCAAw\n\
DAYIKoZIhvcNAgkFADAdBglghkgBZQMEASoEEHtlVMLfMedYdjU2pqnfFFEEQNsk\n\
wnV0fSNxpAVF7k0PTnB2SNmGcrHRr0gFfb6peFXq6QqWSPFCkpPps8jScngEnHKE\n\
cPhnNf83iegpJXFct9U=\n\
-----END ENCRYPTED PRIVATE KEY-----";

/// `ssh-keygen -t ed25519 -N ''`.
pub(super) const OPENSSH_ED25519: &str = "\
-----BEGIN OPENSSH PRIVATE KEY-----\n\
b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n\
QyNTUxOQAAACD4+oBQ5BKggMevZai5SxpO6EC1Ys13e1HfsCqS6E2cgQAAAJAdF0q4HRdK\n\
uAAAAAtzc2gtZWQyNTUxOQAAACD4+oBQ5BKggMevZai5SxpO6EC1Ys13e1HfsCqS6E2cgQ\n\
AAAEBij1bqBuVEyZ7bgh8dQIZYUMk9WpCCjvSQj3TE/D4yK/j6gFDkEqCAx69lqLlLGk7o\n\
QLVizXd7Ud+wKpLoTZyBAAAADXRlc3RAc25hcHNpZnQ=\n\
-----END OPENSSH PRIVATE KEY-----";

/// `ssh-keygen -t ed25519 -N test1234`.
pub(super) const OPENSSH_ED25519_ENCRYPTED: &str = "\
-----BEGIN OPENSSH PRIVATE KEY-----\n\
b3BlbnNzaC1rZXktdjEAAAAACmFlczI1Ni1jdHIAAAAGYmNyeXB0AAAAGAAAABCxTz7/gh\n\
6kCqjGlVSyM882AAAAEAAAAAEAAAAzAAAAC3NzaC1lZDI1NTE5AAAAIJ7KRjeIeKZR3zv3\n\
kXOMfdkms8xgRpzGSbZHpFWNXajqAAAAkNZhfkcqzXfTKwE3kXmZqrvMeEr0JgjArG370M\n\
74oj7oY7gNYx0G6t/Yp+uJP7PAyWY0qsUlSNuQnu0y6dbndenCS9SsfCf6OFFV0pEZCYtE\n\
RJmHan05z576M/4f8SJa/A0f/7xhVcAgP4DhBUQkVMJV2OZ0WK5eTs19ugPj7B+M8XjTJh\n\
SOEkDZiLbHRsLSjg==\n\
-----END OPENSSH PRIVATE KEY-----";

/// `ssh-keygen -t ecdsa -b 256 -N ''`.
pub(super) const OPENSSH_ECDSA_P256: &str = "\
-----BEGIN OPENSSH PRIVATE KEY-----\n\
b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAaAAAABNlY2RzYS\n\
1zaGEyLW5pc3RwMjU2AAAACG5pc3RwMjU2AAAAQQQVxTe6/DplUUVawozGBE/Q4WC7dkR3\n\
x1D9zOqde/gYH4STWowtG2vlyFuVg7rIPMgsrEbpZkP8lV/PTagZjEP9AAAAqH76+Ch++v\n\
goAAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBBXFN7r8OmVRRVrC\n\
jMYET9DhYLt2RHfHUP3M6p17+BgfhJNajC0ba+XIW5WDusg8yCysRulmQ/yVX89NqBmMQ/\n\
0AAAAgKRvEx9Rh5YIXj0Nv+KEmKHmGJQa5C5VzV71MTrAdLVcAAAANdGVzdEBzbmFwc2lm\n\
dAECAw==\n\
-----END OPENSSH PRIVATE KEY-----";

/// `ssh-keygen -t rsa -b 1024 -N ''`.
pub(super) const OPENSSH_RSA_1024: &str = "\
-----BEGIN OPENSSH PRIVATE KEY-----\n\
b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAlwAAAAdzc2gtcn\n\
NhAAAAAwEAAQAAAIEA5iIeKvy1NRwtzVRkPJTqoFWSn6j27WmBGmmbZSKQ7DJ6mLPKnA87\n\
bIFbAcCn3e8QzqzDCWDAk+edsTQ/dzHOP/HzHobCft1nX7QCVNluyg2QVMivZm8tYdObcC\n\
g7gqqdFOmzAnP3GAke7kQ4OB7QTk1EC8v9FeNzQX2RBOCIRB8AAAIItm8PA7ZvDwMAAAAH\n\
c3NoLXJzYQAAAIEA5iIeKvy1NRwtzVRkPJTqoFWSn6j27WmBGmmbZSKQ7DJ6mLPKnA87bI\n\
FbAcCn3e8QzqzDCWDAk+edsTQ/dzHOP/HzHobCft1nX7QCVNluyg2QVMivZm8tYdObcCg7\n\
gqqdFOmzAnP3GAke7kQ4OB7QTk1EC8v9FeNzQX2RBOCIRB8AAAADAQABAAAAgQCuYK3RTt\n\
kT3D1Md6TYTtKWGSFX/5TTgn1EAT+xW4bKotlIefuNUvFpH39RDaVlQm/O2xOSOJDTwc44\n\
ZumsLL4lP/6LZy12cXbfUJ77ItutTwc8MN/kQzXdOwZlqNRr5fc+y+HDaGmeMuhIgCATRg\n\
Ju6bEk0OSKcsVmLjlWy+zcqQAAAEAn49pjrm01qyXXAJ+S7cRFviHAVCEqqeKxGyq1imb/\n\
Of/JaOw13eersPQyDZB0BE8togaiX/bJBJfNMZkctA6AAAAAQQD5IKbTXhmnNqbvRuBVUc\n\
6tkahcDC+mhOJPiUBqdQeJ8A79DVdQjuS5ryCP2YDI368UCyG2CJsMcTwCSPdHO13tAAAA\n\
QQDse1Pw25mb7P1AkWPq01bylDVEeSmkjlQIX/wPRye1xHhTt2vfkKUHxw1viQxaqI2iK7\n\
WceMun2r1GdDEEwEi7AAAADXRlc3RAc25hcHNpZnQBAgMEBQ==\n\
-----END OPENSSH PRIVATE KEY-----";

/// GnuPG 2.2.40 `gpg --batch --gen-key` (eddsa/ed25519, `%no-protection`) in a throwaway GNUPGHOME, then `gpg --export-secret-keys --armor`.
pub(super) const PGP_ED25519: &str = "\
-----BEGIN PGP PRIVATE KEY BLOCK-----\n\
\n\
lFgEawSeqxYJKwYBBAHaRw8BAQdAmGzeCEVin1COCu+k6hT3S2nOMR+U7g1rT2hw\n\
eHuZNoMAAQDgdEbIbNTjDBtP7ZhumxkhN9SDSOIIlSzmaCeGyP8NGw8vtCVzbmFw\n\
c2lmdCB0ZXN0IDx0ZXN0QHNuYXBzaWZ0LmludmFsaWQ+iJAEExYIADgWIQR9XXAJ\n\
OjEoN8ajf18/ttXj78pdOAUCawSeqwIbIwULCQgHAgYVCgkICwIEFgIDAQIeAQIX\n\
gAAKCRA/ttXj78pdOJdmAP0YdBuoyvi478226nEF9kUEi8fBCwv1ksIeG3R5OEeI\n\
gwD+PbqpIVJr2lYBRErDsRbadOIL+pK4kM0j1KMYEQ5zegk=\n\
=ZiFi\n\
-----END PGP PRIVATE KEY BLOCK-----";

/// as PGP_ED25519, with `Passphrase: test1234`.
pub(super) const PGP_ED25519_PROTECTED: &str = "\
-----BEGIN PGP PRIVATE KEY BLOCK-----\n\
\n\
lIYEawSeqxYJKwYBBAHaRw8BAQdAfVKcyAnpTzeXKnMZl7l+XzNTZkKf8LkerbH5\n\
M8jg9i/+BwMCkaEgrRQ9EyD/Wy7Ch/DpGByubxWYZ14/f16gsFLPDSOYuWt/iY/g\n\
Vj4Hb6xttAcTZTnvehHMRRf1kezY8X3XanA6hd4MlGcX7pHJrw9U3rQnc25hcHNp\n\
ZnQgdGVzdDIgPHRlc3QyQHNuYXBzaWZ0LmludmFsaWQ+iJAEExYIADgWIQT6szEr\n\
kNdDTg8wwQJ+9KX6NE0rfQUCawSeqwIbIwULCQgHAgYVCgkICwIEFgIDAQIeAQIX\n\
gAAKCRB+9KX6NE0rfUBCAQCTKgQp4uG71z+Hpgh/tsRRHTPKI/Slq8pk1uV4F3up\n\
LQEAzHBhyNjoTUPtwQvm3ysCk6x4/Hgya97j/fdpEJvaygw=\n\
=Hkib\n\
-----END PGP PRIVATE KEY BLOCK-----";

/// PuTTY 0.78 `puttygen -t ed25519`.
pub(super) const PUTTY_V3_ED25519: &str = "\
PuTTY-User-Key-File-3: ssh-ed25519\n\
Encryption: none\n\
Comment: snapsift-test\n\
Public-Lines: 2\n\
AAAAC3NzaC1lZDI1NTE5AAAAIDCz+YD6VwSVcH32TJeU+Men7WpQNNRDkvkMPy83\n\
F8w3\n\
Private-Lines: 1\n\
AAAAIC6Ovt2hFRjJXuDVfLdHZQKX9UkkmGYaUg2Xk52x+Lwy\n\
Private-MAC: 57f59909a8a7464922ab455d8b5222927f5ee51d65e1775f9a323a0dbac54bab";

/// `puttygen -t ed25519`, passphrase `test1234`.
pub(super) const PUTTY_V3_ED25519_ENCRYPTED: &str = "\
PuTTY-User-Key-File-3: ssh-ed25519\n\
Encryption: aes256-cbc\n\
Comment: snapsift-test-enc\n\
Public-Lines: 2\n\
AAAAC3NzaC1lZDI1NTE5AAAAIEfQVkgyUlMQUdWDaPlNc+CL+lYxXXQkoUiZbrim\n\
3os1\n\
Key-Derivation: Argon2id\n\
Argon2-Memory: 8192\n\
Argon2-Passes: 13\n\
Argon2-Parallelism: 1\n\
Argon2-Salt: 94c89e5958411bbc5fb6ede04bf733fb\n\
Private-Lines: 1\n\
Pev29gti105MostQM4ChUzh8xORaGDslNebxKMhbGlBeabTxAczKGhrnQNWtVqim\n\
Private-MAC: d25a4c70615a6721e7914e38ca353e13b84e2e7182ccaec9fb414ce0a73452c4";

/// `puttygen -t ecdsa -b 256`.
pub(super) const PUTTY_V3_ECDSA_P256: &str = "\
PuTTY-User-Key-File-3: ecdsa-sha2-nistp256\n\
Encryption: none\n\
Comment: snapsift-ec\n\
Public-Lines: 3\n\
AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBKGocAqAO3Ri\n\
Xg3bU3hwbMruOSR5xqJoAE2y7g+hE/MFZVbMEx5f0KT21cRHVjxuEO/23fOl9Dpv\n\
GxzF842wiHk=\n\
Private-Lines: 1\n\
AAAAIQCMM1Q4VtwPfYnI/XzTBJTaXHYeunJ+IwvR0qWrQSMBNQ==\n\
Private-MAC: eb152b0feb95a7716d9f80ee6ab1bb3d4a50a859c968345c805a00a5691d70d8";

/// `puttygen -t ed25519 --ppk-param version=2`.
pub(super) const PUTTY_V2_ED25519: &str = "\
PuTTY-User-Key-File-2: ssh-ed25519\n\
Encryption: none\n\
Comment: snapsift-test-v2\n\
Public-Lines: 2\n\
AAAAC3NzaC1lZDI1NTE5AAAAIMf6sEbGK+3Oy/5p5WDdVS8WBkzQDMHBpDSOTRIS\n\
ADsB\n\
Private-Lines: 1\n\
AAAAICp+drKlt5yaQrlssvF+HuQgtrLB3vbEIx/LhjG4z9wh\n\
Private-MAC: 4e775a9ebe59e8fcc62f50933cdbbbeea278b0e0";

/// `puttygen -t ed25519 --ppk-param version=2`, passphrase `test1234`.
pub(super) const PUTTY_V2_ED25519_ENCRYPTED: &str = "\
PuTTY-User-Key-File-2: ssh-ed25519\n\
Encryption: aes256-cbc\n\
Comment: snapsift-test-v2enc\n\
Public-Lines: 2\n\
AAAAC3NzaC1lZDI1NTE5AAAAIMImSORxZoFm/mAoSvlgo2kjOwqG/Z/GfHrgBEx6\n\
NrtY\n\
Private-Lines: 1\n\
aMZE4dD+o6Uk//k1MeMGlsTeJWW4fHXtQUwtZIEbZTMpTWrzQK2QprV/LzUkkOEF\n\
Private-MAC: ba11ff496fde4f00518612df2caaaef3070d70f8";

/// `puttygen -t rsa -b 1024 --ppk-param version=2`.
pub(super) const PUTTY_V2_RSA_1024: &str = "\
PuTTY-User-Key-File-2: ssh-rsa\n\
Encryption: none\n\
Comment: snapsift-rsa\n\
Public-Lines: 4\n\
AAAAB3NzaC1yc2EAAAADAQABAAAAgQCPiu31n7un9ubmwsluTnEadPJyq9WO3mIB\n\
KcA/6lrWOdW8DF6+mgfBr3FJoqyIckAwDnJIW8Cogt2pVOrSGCm5lvg6RwcsIRo2\n\
+yJmdfJktMPyb95zzcln7RHAiGmuzVjbG2vh7njmXfc/Q4jlE1saqN7314w0BBAU\n\
2hi0aKZk7Q==\n\
Private-Lines: 8\n\
AAAAgGFJ9ZzMBcGDC98N2L7Ftc0LxKPKKXWq7lwBc0cezTBzhJTvAWxIM8en5K3W\n\
7v+QCEdKE1VNstfD0v8JChsZu3UCshkgp35EpQW1yjx51oR1MdMiaWFR2IxDh6lH\n\
Nvc/Hk1nZrA3btpkf9WnjUPVk8n7r6SycKYma6Bz2ltrX5uBAAAAQQDfCeDJbi7D\n\
jgepQSp+XYY4f2QlipzFed4DDhkchBIENYYasQYMR1yoxoeopksCiqoxiTgh7ii4\n\
Ja4jpLkonPKNAAAAQQCkwYSUFpQF5c1WzU8Z0MhbI4NPVTUZiD5CQykwSp4MIKBE\n\
ehrNAdj9z/TPHNZ1z/yOxUuZ/etCCeMJLL7Yt9PhAAAAQG8jUiOC+WHNLx0TpDFO\n\
F58faJaQ4R9LWAXh4C2ES34u9Eq4+EBhCLoCu6Tlc8CVVmEgfXxunHqAe0E6arNU\n\
yYI=\n\
Private-MAC: 735becaf664082cc77bfda86339528a64203f8d2";

/// GnuPG 2.2.40 `gpg --batch --gen-key` (RSA 1024, `%no-protection`) in a throwaway GNUPGHOME,
/// then `gpg --export-secret-keys --armor`.
pub(super) const PGP_RSA_1024: &str = "\
-----BEGIN PGP PRIVATE KEY BLOCK-----\n\
\n\
lQHYBGsEpKgBBACkKCRc6E8eEdraEkJYPrKUNc3mKGCDqd7rXTSLaJ3Nn7ueAzmf\n\
eaZ2yxhEUSdOWXKPu1dmtdi/Vf17VEch+4hJzRvMe2QQAF29WjIp6ZFh2s28cp1G\n\
FmXMASKWBuZY+K2dcNemgZzSc8UyNsCcTH6zdm+sTOsHo1f0bzDEMd3vjQARAQAB\n\
AAP/Sv/2ISaYYzYoJeMawcOfhnyQnnvLIMyfRyyV4a3CD1zP9PEnRhfn+LVw2GG1\n\
kiPm5gljdM9XgI+ymMLYHwwTZ107AoQpo16h51rTJyV0VIJVAdY1fJeldH3rwGO/\n\
8lKW4+hsI4RVcnC10ARANIFD4TbR74TyEh9IzEcO7Z+/pncCAMh6I4e/4Blej59K\n\
PeIV9pjtHzfJqgLz1c8V+Jngp0ZWby3+GWkxwJhG/94F0+dmNB2L2TKL82MOiZY6\n\
VAOatXMCANGe40N8YjTh5V0CMg4G8TIkOVMP8l39YXysZeQiUn7FZkJWIBhhTKKo\n\
Ej3qcf73S3c/q96OibvrsvczhSbThv8CAL08Jhf2V1AFaNrnsONMyUtTdFC3Bbw/\n\
WnPThCrinN1v5RZmxLV5ONgTyYS/ohNk2MinnD4SlsayVbeX6B7Wv5yjdrQjc25h\n\
cHNpZnQgcnNhIDxyc2FAc25hcHNpZnQuaW52YWxpZD6IzgQTAQoAOBYhBEJ5XCa+\n\
bFtx7DAeOlFGAB9L37cWBQJrBKSoAhsvBQsJCAcCBhUKCQgLAgQWAgMBAh4BAheA\n\
AAoJEFFGAB9L37cW8xID/ixB1xfijXglcdbbBDGG42ZldBYtsQsZ4OZhRgy3eaiC\n\
ri6Ihhrb28lHpOSofb4Di0ZPsAbn07SaGsFFzid9cdegQJTx10ciLyVQ1TBn3dZJ\n\
Kc4Yh6RcaGiw3p7hdd72VAo1EJ2N7ergaSKG/vEyTj3U08RtqhQuXjIs+My99QhB\n\
=qsAz\n\
-----END PGP PRIVATE KEY BLOCK-----";
