//! The case the file pass exists for: a Spring Boot jar inside a war inside a tar.gz, built
//! with the JDK's `jar`, with a key in `BOOT-INF/classes/application.properties`.

use snapsift_testkit::{sh, workdir, write_file};
use snapsift_unpack::{LeafEncoding, Limits};

use crate::common::{config_text, fake_key, unpack_path};

#[test]
fn a_key_in_a_jar_in_a_war_in_a_tar_gz() {
    let dir = workdir();
    let key = fake_key(200);
    let properties = config_text("shop", &key);
    write_file(
        dir.path(),
        "jar/BOOT-INF/classes/application.properties",
        &properties,
    );
    write_file(
        dir.path(),
        "jar/BOOT-INF/classes/Shop.class",
        b"\xCA\xFE\xBA\xBE not really a class",
    );
    write_file(dir.path(), "war/WEB-INF/web.xml", "<web-app/>\n");
    write_file(dir.path(), "war/index.html", "<h1>shop</h1>\n");
    sh(
        dir.path(),
        "mkdir -p war/WEB-INF/lib release \
         && jar --create --file war/WEB-INF/lib/shop.jar -C jar . \
         && jar --create --file release/shop.war -C war . \
         && tar -czf release.tar.gz release",
    );
    let (seen, summary) = unpack_path(&dir.path().join("release.tar.gz"), &Limits::default());
    assert!(seen.problems.is_empty(), "{:?}", seen.problem_lines());
    let chain = [
        "gzip",
        "tar:release/shop.war",
        "zip:WEB-INF/lib/shop.jar",
        "zip:BOOT-INF/classes/application.properties",
    ];
    let leaf = seen.leaf(&chain);
    assert_eq!(leaf.content, properties.as_bytes());
    assert_eq!((leaf.origin, leaf.encoding), (None, LeafEncoding::Bytes));
    assert!(String::from_utf8_lossy(&leaf.content).contains(&key));
    // Every other member is there too, each once (the manifests jar adds included).
    for other in [
        vec!["gzip", "tar:release/shop.war", "zip:WEB-INF/web.xml"],
        vec!["gzip", "tar:release/shop.war", "zip:index.html"],
        vec!["gzip", "tar:release/shop.war", "zip:META-INF/MANIFEST.MF"],
        vec![
            "gzip",
            "tar:release/shop.war",
            "zip:WEB-INF/lib/shop.jar",
            "zip:BOOT-INF/classes/Shop.class",
        ],
        vec![
            "gzip",
            "tar:release/shop.war",
            "zip:WEB-INF/lib/shop.jar",
            "zip:META-INF/MANIFEST.MF",
        ],
    ] {
        seen.leaf(&other);
    }
    assert_eq!(summary.leaves, seen.leaves.len() as u64);
}
