//! Red-team harness: hostile sketches through the real compiler, simavr and process runner,
//! each asserting the safe outcome (nothing written or read outside the build, bounded
//! resources, no survivors).

use std::path::Path;
use std::time::Duration;

use autopilot_toolchain::firmware::{self, FirmwareRefusal};
use autopilot_toolchain::process::{self, ProcessSpec};
use autopilot_toolchain::{
    CompileOutcome, Compiler, Limits, Sandbox, SandboxConfig, SimulateRequest, Sketch, simulate,
};
use autopilot_trace::SimulationStatus;

use crate::support::{avr_toolchain, config, simavr, target, write_sketch};

/// A sketch whose `.mmcu` section tells simavr to write a VCD trace to `vcd` on the host, with
/// a signal name that is a shell command. `loop` reads the tags so `--gc-sections` keeps them.
fn mmcu_sketch(vcd: &Path) -> String {
    format!(
        r#"#include <stdint.h>
struct Name {{ uint8_t tag; uint8_t len; char name[96]; }} __attribute__((packed));
struct Period {{ uint8_t tag; uint8_t len; uint32_t period; }} __attribute__((packed));
struct Trace {{ uint8_t tag; uint8_t len; uint8_t mask; uint16_t addr; char name[32]; }} __attribute__((packed));
const Name vcd_file __attribute__((section(".mmcu"), used)) = {{ 12, sizeof(Name) - 2, "{vcd}" }};
const Period vcd_period __attribute__((section(".mmcu"), used)) = {{ 13, sizeof(Period) - 2, 1000 }};
const Trace vcd_trace __attribute__((section(".mmcu"), used)) = {{ 14, sizeof(Trace) - 2, 0xff, 0x25, "echo pwned" }};
void setup() {{ Serial.begin(9600); Serial.println("apple"); }}
void loop() {{
  PORTB ^= 1;
  GPIOR0 = *(volatile const uint8_t *)&vcd_file + *(volatile const uint8_t *)&vcd_period
      + *(volatile const uint8_t *)&vcd_trace;
}}
"#,
        vcd = vcd.display()
    )
}

async fn compile(work: &Path, name: &str, code: &str) -> autopilot_toolchain::CompileResult {
    let folder = write_sketch(&work.join("sketches"), name, code);
    let compiler = Compiler::new(&target("uno"), config(work)).await.unwrap();
    let sketch = Sketch::open(&folder).unwrap();
    compiler
        .compile(&sketch, &work.join("build"))
        .await
        .unwrap()
}

#[tokio::test]
async fn an_mmcu_section_is_refused_and_simavr_writes_no_host_file() {
    if !avr_toolchain() || !simavr() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let vcd = work.path().join("pwned.vcd");
    let result = compile(work.path(), "Mmcu", &mmcu_sketch(&vcd)).await;
    assert!(
        matches!(result.outcome, CompileOutcome::Succeeded { .. }),
        "{:?}",
        result.outcome
    );
    let elf = result.elf.unwrap();
    let bytes = fs_err::read(&elf).unwrap();
    let names = firmware::section_names(&bytes).unwrap();
    assert!(names.iter().any(|n| n == ".mmcu"), "{names:?}");
    assert!(names.iter().any(|n| n == ".text"), "{names:?}");

    let simulator = target("uno").simulator.unwrap();
    let request = SimulateRequest::new(
        &elf,
        &simulator.mcu,
        simulator.clock_hz,
        Duration::from_secs(2),
        vec!["apple".into()],
    );
    let simulation = simulate(&request).await.unwrap();
    assert_eq!(
        simulation.status,
        SimulationStatus::Failed,
        "{simulation:?}"
    );
    assert_eq!(simulation.refused, Some(FirmwareRefusal::MmcuSection));
    assert!(
        simulation
            .detail
            .as_deref()
            .is_some_and(|d| d.contains("firmware.mmcu_section")),
        "{simulation:?}"
    );
    assert!(!vcd.exists(), "simavr wrote {}", vcd.display());
}

#[test]
fn the_section_reader_refuses_what_it_cannot_follow() {
    assert!(matches!(
        firmware::vet(b"not an elf"),
        Err(FirmwareRefusal::Unreadable(_))
    ));
    // An ELF32 header whose section table points past the end of the file.
    let mut elf = vec![0u8; 52];
    elf[..6].copy_from_slice(b"\x7fELF\x01\x01");
    elf[0x20..0x24].copy_from_slice(&1000u32.to_le_bytes());
    elf[0x2E..0x30].copy_from_slice(&40u16.to_le_bytes());
    elf[0x30..0x32].copy_from_slice(&3u16.to_le_bytes());
    elf[0x32..0x34].copy_from_slice(&2u16.to_le_bytes());
    assert!(matches!(
        firmware::vet(&elf),
        Err(FirmwareRefusal::Unreadable(_))
    ));
    // No section table at all: nothing for simavr to find.
    elf[0x20..0x24].copy_from_slice(&0u32.to_le_bytes());
    assert_eq!(firmware::vet(&elf), Ok(()));
}

/// Whether bubblewrap is installed (required under `CI=true`).
fn bwrap() -> bool {
    crate::support::require(
        "bubblewrap (scripts/install-os-deps.sh)",
        which::which("bwrap").is_ok(),
    )
}

/// The first lines of a hostile sketch, given the planted secret's path.
type HeadOf = fn(&Path) -> String;

/// A host file the sketch must never see: a stand-in for `.env` with an API key.
fn plant_secret(dir: &Path) -> (std::path::PathBuf, &'static str) {
    let secret = dir.join(".env");
    let token = "OPENAI_API_KEY=sk-redteam-7f3a9c";
    fs_err::write(&secret, format!("{token}\n")).unwrap();
    (secret, token)
}

/// The compile failed, and nothing it printed or produced holds the secret.
fn assert_failed_without(result: &autopilot_toolchain::CompileResult, token: &str, what: &str) {
    let CompileOutcome::Failed { diagnostics, .. } = &result.outcome else {
        panic!(
            "{what}: expected a failed compile, got {:?}",
            result.outcome
        );
    };
    let rendered = format!("{diagnostics:?}{}", result.tool_output);
    assert!(
        !rendered.contains(token),
        "{what}: the secret leaked: {rendered}"
    );
    assert!(
        !rendered.contains("sk-redteam"),
        "{what}: the secret leaked"
    );
}

#[tokio::test]
async fn includes_of_host_files_fail_inside_the_sandbox() {
    if !avr_toolchain() || !bwrap() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let cases: [(&str, HeadOf); 4] = [
        ("Absolute", |secret| {
            format!("#include \"{}\"\n", secret.display())
        }),
        // <case>/sketches/<name>/<name>.ino (and its copy in <case>/build/sketch/):
        // `../../.env` is the planted secret either way.
        ("Relative", |_| "#include \"../../.env\"\n".to_owned()),
        ("Passwd", |_| "#include \"/etc/passwd\"\n".to_owned()),
        ("Incbin", |secret| {
            format!(
                "__asm__(\".section .progmem.data\\n.global leak\\nleak: .incbin \\\"{}\\\"\\n.byte 0\\n.text\");\n",
                secret.display()
            )
        }),
    ];
    for (name, head) in cases {
        let case = work.path().join(name);
        fs_err::create_dir_all(&case).unwrap();
        let (secret, token) = plant_secret(&case);
        let code = format!("{}void setup() {{}}\nvoid loop() {{}}\n", head(&secret));
        let result = compile(&case, name, &code).await;
        assert_failed_without(&result, token, name);
        assert!(
            result.tool_output.contains("No such file")
                || result.tool_output.contains("file not found"),
            "{name}: {}",
            result.tool_output
        );
    }
}

#[tokio::test]
async fn including_dev_zero_ends_at_the_memory_limit_quickly() {
    if !avr_toolchain() || !bwrap() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let start = std::time::Instant::now();
    let result = compile(
        work.path(),
        "Zero",
        "#include \"/dev/zero\"\nvoid setup() {}\nvoid loop() {}\n",
    )
    .await;
    assert!(
        matches!(result.outcome, CompileOutcome::Failed { .. }),
        "{:?}",
        result.outcome
    );
    let CompileOutcome::Failed { diagnostics } = &result.outcome else {
        unreachable!()
    };
    assert!(
        diagnostics[0].message.contains("resource limit")
            && diagnostics[0].message.contains("out of memory"),
        "{diagnostics:?}"
    );
    assert!(
        start.elapsed() < Duration::from_secs(60),
        "took {:?}",
        start.elapsed()
    );
}

/// A hostile "tool": a shell script in its own folder, run through the runner in a sandbox
/// that may write `build` only.
fn hostile_tool(dir: &Path, script: &str) -> (std::path::PathBuf, Sandbox) {
    let bin = dir.join("bin");
    fs_err::create_dir_all(&bin).unwrap();
    let tool = bin.join("tool");
    fs_err::write(&tool, format!("#!/bin/sh\n{script}\n")).unwrap();
    fs_err::set_permissions(&tool, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let build = dir.join("build");
    fs_err::create_dir_all(&build).unwrap();
    let sandbox = Sandbox::new(&SandboxConfig::default()).writable(&build);
    (tool, sandbox)
}

/// Host processes whose command line contains `marker`.
fn processes_with(marker: &str) -> Vec<i32> {
    fs_err::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            fs_err::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|cmd| String::from_utf8_lossy(&cmd).contains(marker))
        })
        .collect()
}

#[tokio::test]
async fn a_tool_cannot_write_outside_its_build_dir_nor_read_host_secrets() {
    if !bwrap() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let (secret, token) = plant_secret(work.path());
    let outside = work.path().join("outside.txt");
    let script = format!(
        "echo pwned > {outside}; echo pwned > /tmp/inside-tmp; echo ok > {build}/inside.txt\n\
         echo pwned > /at-root 2>&1; echo pwned > /dev/at-dev 2>&1; [ -e /at-root ] || echo no-root-file\n\
         cat {secret} /root/.bashrc /etc/shadow 2>&1; env; ls /home /root 2>&1; exit 0",
        outside = outside.display(),
        build = work.path().join("build").display(),
        secret = secret.display(),
    );
    let (tool, sandbox) = hostile_tool(work.path(), &script);
    let output = process::run(&ProcessSpec::new(&tool).sandbox(Some(sandbox)))
        .await
        .unwrap();
    let text = format!("{}{}", output.stdout.text(), output.stderr.text());
    assert!(!outside.exists(), "wrote outside the build dir: {text}");
    assert!(work.path().join("build/inside.txt").is_file(), "{text}");
    assert!(!Path::new("/tmp/inside-tmp").exists(), "/tmp is private");
    // The sandbox's own root and /dev are read-only: stray writes fail instead of landing in
    // bwrap's uncapped memory-backed scratch.
    assert_eq!(
        text.matches("Read-only file system").count(),
        2,
        "writes to / and /dev: {text}"
    );
    assert!(text.contains("no-root-file"), "{text}");
    assert!(!text.contains(token), "read the secret: {text}");
    // The host environment (cargo's, and any API key in it) stays outside.
    assert!(!text.contains("CARGO_"), "host environment leaked: {text}");
    assert!(text.contains("PATH=/usr/local/bin:/usr/bin:/bin"), "{text}");
}

#[tokio::test]
async fn the_private_tmp_is_capped() {
    if !bwrap() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    // Files under the file-size limit each, more than the cap together.
    let script =
        "for i in 1 2 3 4; do head -c 4194304 /dev/zero > /tmp/f$i || echo stopped $i; done";
    let (tool, sandbox) = hostile_tool(work.path(), script);
    let limits = Limits {
        tmp_size: Some(10 << 20),
        ..Limits::default()
    };
    let output = process::run(&ProcessSpec::new(&tool).sandbox(Some(sandbox.limits(limits))))
        .await
        .unwrap();
    let text = format!("{}{}", output.stdout.text(), output.stderr.text());
    assert!(text.contains("No space left on device"), "{text}");
    assert!(
        text.contains("stopped 3"),
        "the third 4 MiB file passes a 10 MiB cap: {text}"
    );
    assert!(
        !text.contains("stopped 1") && !text.contains("stopped 2"),
        "{text}"
    );
}

#[tokio::test]
async fn a_fork_bomb_is_bounded_and_leaves_no_process_behind() {
    if !bwrap() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let marker = format!("4242.{}", std::process::id());
    // Forks sleepers until the limit stops it, then reports how many it got and waits.
    let script = format!(
        "n=0; while [ $n -lt 200 ]; do sleep {marker} & [ $? -eq 0 ] || break; n=$((n+1)); done; \
         echo forked $n; wait"
    );
    let (tool, sandbox) = hostile_tool(work.path(), &script);
    let limits = Limits {
        processes: Some(32),
        ..Limits::default()
    };
    let spec = ProcessSpec::new(&tool)
        .sandbox(Some(sandbox.limits(limits)))
        .timeout(Duration::from_secs(3))
        .grace(Duration::from_millis(200));
    let output = process::run(&spec).await.unwrap();
    assert_eq!(
        output.termination,
        autopilot_toolchain::Termination::TimedOut
    );
    let text = format!("{}{}", output.stdout.text(), output.stderr.text());
    // The kernel does not count a root-owned user namespace's processes against
    // RLIMIT_NPROC: as root the bomb is bounded by the timeout and the PID namespace only.
    let root = std::os::unix::fs::MetadataExt::uid(&fs_err::metadata("/proc/self").unwrap()) == 0;
    if !root {
        assert!(
            !text.contains("forked 200"),
            "the process limit did not hold: {text}"
        );
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(processes_with(&marker), Vec::<i32>::new(), "survivors");
}

#[test]
fn the_sandbox_command_binds_only_what_the_run_names() {
    let sandbox = Sandbox::new(&SandboxConfig::default())
        .read_only("/work/run/sketches/A")
        .writable("/work/run/build")
        .read_only("/work/run/build/A.elf");
    let args: Vec<String> = sandbox
        .arguments(
            Path::new("/opt/tool/bin/tool"),
            &["-x".into()],
            Some(Path::new("/work/run/build")),
        )
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let joined = args.join(" ");
    for expected in [
        "--die-with-parent --new-session --unshare-all --cap-drop ALL",
        "--ro-bind-try /usr /usr",
        "--size 536870912 --tmpfs /tmp",
        "--bind /work/run/build /work/run/build",
        "--remount-ro / --remount-ro /dev --chdir",
        "--ro-bind-try /opt/tool/bin /opt/tool/bin",
        "--chdir /work/run/build --",
        "/usr/bin/prlimit --as=1073741824 --cpu=600 --nproc=256 --fsize=268435456 -- /opt/tool/bin/tool -x",
    ] {
        assert!(joined.contains(expected), "{expected:?} in {joined}");
    }
    // Shallow before deep: the ELF stays read-only inside the writable build path.
    let position = |needle: &str| joined.find(needle).unwrap();
    assert!(position("--bind /work/run/build ") < position("--ro-bind-try /work/run/build/A.elf"));
    assert!(position("--tmpfs /tmp") < position("--bind /work/run/build"));
    // Nothing of the host beyond the system folders and what the run named.
    assert!(!joined.contains("/root") && !joined.contains("/home"));
    assert!(
        !joined.contains("bind / ") && !joined.contains("bind-try / "),
        "{joined}"
    );
}
