//! What the unpack tests share beyond snapsift-testkit: a visitor that records everything it
//! is handed, and the unpacking and checks around it.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use snapsift_testkit::{Secrets, write_file};
use snapsift_unpack::{Layer, Leaf, LeafEncoding, Limits, Problem, Summary, Visitor, unpack};

/// Writes `count` small files `m/00.txt`, `m/01.txt`... under `dir`, for archives with many
/// members.
pub fn write_members(dir: &Path, count: usize) {
    for i in 0..count {
        write_file(dir, &format!("m/{i:02}.txt"), format!("member {i}\n"));
    }
}

/// A fake Alibaba Cloud AccessKey ID (`LTAI5t` and 18 letters and digits), generated from
/// `seed`: never a real one.
pub fn fake_key(seed: u64) -> String {
    Secrets::new(seed).alibaba_key_id()
}

/// A text file's worth of lines around `secret`.
pub fn config_text(name: &str, secret: &str) -> String {
    format!(
        "# {name}\nserver.port=8080\nlogging.level.root=INFO\n\
         alibaba.cloud.access-key-id={secret}\nspring.application.name={name}\n"
    )
}

/// What the visitor saw of one leaf.
#[derive(Debug)]
pub struct Seen {
    /// The chain, each layer as it displays (`zip:path`).
    pub chain: Vec<String>,
    pub encoding: LeafEncoding,
    pub origin: Option<u64>,
    pub len: Option<u64>,
    /// The content, up to [`Collect::keep`] bytes.
    pub content: Vec<u8>,
    /// All the bytes the content yielded.
    pub read: u64,
}

/// A visitor that records leaves and problems in order.
pub struct Collect {
    /// How many bytes of each leaf's content to keep.
    pub keep: usize,
    pub leaves: Vec<Seen>,
    pub problems: Vec<(Vec<String>, Problem)>,
    /// `leaf <chain>` and `problem <chain>` in the order they came.
    pub order: Vec<String>,
}

impl Default for Collect {
    fn default() -> Self {
        Collect {
            keep: usize::MAX,
            leaves: Vec::new(),
            problems: Vec::new(),
            order: Vec::new(),
        }
    }
}

/// `a > b > c`.
pub fn render(chain: &[Layer]) -> Vec<String> {
    chain.iter().map(|layer| layer.to_string()).collect()
}

impl Visitor for Collect {
    type Error = std::io::Error;

    fn leaf(&mut self, leaf: &Leaf<'_>, content: &mut dyn Read) -> Result<(), Self::Error> {
        let mut kept = Vec::new();
        let mut read = 0u64;
        let mut buf = vec![0u8; 64 << 10];
        loop {
            let n = content.read(&mut buf)?;
            if n == 0 {
                break;
            }
            read += n as u64;
            let room = self.keep.saturating_sub(kept.len()).min(n);
            kept.extend_from_slice(&buf[..room]);
        }
        let chain = render(leaf.chain);
        self.order.push(format!("leaf {}", chain.join(" > ")));
        self.leaves.push(Seen {
            chain,
            encoding: leaf.encoding,
            origin: leaf.origin,
            len: leaf.len,
            content: kept,
            read,
        });
        Ok(())
    }

    fn problem(&mut self, chain: &[Layer], problem: &Problem) -> Result<(), Self::Error> {
        let chain = render(chain);
        self.order.push(format!("problem {}", chain.join(" > ")));
        self.problems.push((chain, problem.clone()));
        Ok(())
    }
}

impl Collect {
    /// The leaf with this chain; fails the test if there is none or several.
    pub fn leaf(&self, chain: &[&str]) -> &Seen {
        let found: Vec<&Seen> = self
            .leaves
            .iter()
            .filter(|seen| seen.chain == chain)
            .collect();
        assert_eq!(found.len(), 1, "leaf {chain:?} among {:#?}", self.chains());
        found[0]
    }

    /// Every leaf's chain, joined with ` > `.
    pub fn chains(&self) -> Vec<String> {
        self.leaves
            .iter()
            .map(|seen| seen.chain.join(" > "))
            .collect()
    }

    /// The text of the leaf with this chain.
    pub fn text(&self, chain: &[&str]) -> String {
        String::from_utf8(self.leaf(chain).content.clone()).unwrap()
    }

    /// The problems, each as `chain: message`.
    pub fn problem_lines(&self) -> Vec<String> {
        self.problems
            .iter()
            .map(|(chain, problem)| format!("{}: {problem}", chain.join(" > ")))
            .collect()
    }
}

/// Unpacks the file at `path` with `limits`, recording everything.
pub fn unpack_path(path: &Path, limits: &Limits) -> (Collect, Summary) {
    let mut visitor = Collect::default();
    let summary = unpack_into(path, limits, &mut visitor);
    (visitor, summary)
}

/// Unpacks the file at `path` into `visitor`.
pub fn unpack_into(path: &Path, limits: &Limits, visitor: &mut Collect) -> Summary {
    let file = File::open(path).unwrap();
    let len = file.metadata().unwrap().len();
    unpack(file, len, limits, visitor).unwrap()
}

/// Checks that each leaf with an origin is found verbatim at that offset of `root`.
pub fn assert_origins(root: &Path, visitor: &Collect) {
    let bytes = std::fs::read(root).unwrap();
    for seen in &visitor.leaves {
        if let Some(origin) = seen.origin {
            let start = origin as usize;
            let end = start + seen.content.len();
            assert!(
                bytes.get(start..end) == Some(&seen.content[..]),
                "the bytes at {origin} are not the content of {:?}",
                seen.chain
            );
        }
    }
}
