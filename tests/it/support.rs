//! Helpers for CLI tests: the binary under test and a raw loopback request reader. The
//! corpus, the tools, the scripted server and the trace writer come from `autopilot-testkit`.

use std::io::Read;

pub fn autopilot() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("autopilot").unwrap();
    cmd.env_remove("RUST_LOG").env("NO_COLOR", "1");
    cmd
}

/// Reads a request's head and `content-length` body; returns the head.
pub fn read_request(stream: &mut std::net::TcpStream) -> String {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while let Ok(n) = stream.read(&mut chunk) {
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        if buf.len() >= end + 4 + length {
            return String::from_utf8_lossy(&buf[..end]).into_owned();
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
}

/// Runs the binary with its stdout on a pipe whose reader is already gone (`| head` that has
/// stopped reading), and returns its exit code and stderr.
pub fn run_into_closed_pipe(args: &[&std::ffi::OsStr]) -> (Option<i32>, String) {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    #[expect(
        clippy::disallowed_methods,
        reason = "the test runs the binary under test with a closed stdout"
    )]
    let mut command = std::process::Command::new(assert_cmd::cargo::cargo_bin("autopilot"));
    let output = command
        .args(args)
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}
