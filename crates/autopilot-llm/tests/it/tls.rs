//! TLS is rustls with the ring provider: no OpenSSL, no native-tls, no aws-lc anywhere in the
//! workspace's resolved dependencies (what `cargo tree -i openssl-sys` would find).

use cargo_metadata::MetadataCommand;

const FORBIDDEN: &[&str] = &[
    "openssl-sys",
    "openssl",
    "native-tls",
    "aws-lc-sys",
    "aws-lc-rs",
];

#[test]
fn no_openssl_native_tls_or_aws_lc_is_resolved() {
    let metadata = MetadataCommand::new()
        .manifest_path(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .exec()
        .unwrap();
    let resolve = metadata.resolve.as_ref().unwrap();
    let names: Vec<&str> = resolve
        .nodes
        .iter()
        .filter_map(|node| metadata.packages.iter().find(|p| p.id == node.id))
        .map(|p| p.name.as_str())
        .collect();
    assert!(names.contains(&"rustls"), "rustls is expected: {names:?}");
    assert!(names.contains(&"ring"), "ring is the crypto provider");
    let found: Vec<&&str> = FORBIDDEN.iter().filter(|f| names.contains(f)).collect();
    assert!(found.is_empty(), "resolved: {found:?}");
}
