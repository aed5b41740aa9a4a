//! The Python sandbox, proved with the real venv's interpreter (`bash scripts/setup-python.sh`)
//! and real bubblewrap: no network, no write outside the work dir, no secrets, and fork bombs,
//! memory hogs, hangs and huge files stopped. Each test's comment says what it proves.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use autopilot_toolchain::process::{self, ProcessSpec};
use autopilot_toolchain::python::{PythonEnvError, TMP_SUBDIR, python_spec};
use autopilot_toolchain::sandbox;
use autopilot_toolchain::{
    Limits, ProcessError, ProcessOutput, PythonEnv, PythonJob, SandboxConfig, Termination,
    run_python,
};

/// The project's venv and bubblewrap, both required under `CI=true`.
fn python_env() -> Option<PythonEnv> {
    if !autopilot_testkit::tools::python_env() {
        return None;
    }
    Some(PythonEnv::discover().expect("the venv the pointer names"))
}

/// A work dir and `script` written into it as `job.py`.
fn job_with(script: &str) -> (tempfile::TempDir, PythonJob) {
    let work = tempfile::tempdir().unwrap();
    let path = work.path().join("job.py");
    fs_err::write(&path, script).unwrap();
    let job = PythonJob::new(&path, work.path()).timeout(Duration::from_secs(60));
    (work, job)
}

async fn run(env: &PythonEnv, job: &PythonJob) -> ProcessOutput {
    run_python(&SandboxConfig::default(), env, job)
        .await
        .unwrap()
}

fn text(output: &ProcessOutput) -> String {
    format!("{}{}", output.stdout.text(), output.stderr.text())
}

/// Host processes for which `matches(pid)` holds.
fn processes_where(matches: impl Fn(i32) -> bool) -> Vec<i32> {
    fs_err::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| matches(pid))
        .collect()
}

/// Waits up to 5 s (a killed process is reaped a moment later) for the host processes that
/// `matches` to be gone; returns the survivors.
async fn survivors(matches: impl Fn(i32) -> bool) -> Vec<i32> {
    for _ in 0..50 {
        if processes_where(&matches).is_empty() {
            return Vec::new();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    processes_where(&matches)
}

/// Whether the command line of process `pid` contains `marker`.
fn has_marker(pid: i32, marker: &str) -> bool {
    fs_err::read(format!("/proc/{pid}/cmdline"))
        .is_ok_and(|cmd| String::from_utf8_lossy(&cmd).contains(marker))
}

fn is_root() -> bool {
    std::os::unix::fs::MetadataExt::uid(&fs_err::metadata("/proc/self").unwrap()) == 0
}

/// Proves the runner uses the venv's interpreter with its pinned packages, in the work dir,
/// with `HOME` and `TMPDIR` inside it, and that a failing script is an exit code, not an error.
#[tokio::test]
async fn a_script_runs_in_the_venv_with_home_and_tmpdir_in_its_work_dir() {
    let Some(env) = python_env() else { return };
    let (work, job) = job_with(
        "import os, sys, tempfile, numpy\n\
         print(sys.prefix); print(os.getcwd()); print(os.environ['HOME']); print(tempfile.gettempdir())\n\
         open('out.txt', 'w').write('written')\n\
         sys.exit(3)\n",
    );
    let output = run(&env, &job).await;
    assert_eq!(
        output.termination,
        Termination::Exited { code: 3 },
        "{}",
        text(&output)
    );
    let stdout = output.stdout.text();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{}", text(&output));
    assert_eq!(Path::new(lines[0]), env.root());
    assert_eq!(Path::new(lines[1]), work.path());
    assert_eq!(Path::new(lines[2]), work.path());
    assert_eq!(Path::new(lines[3]), work.path().join(TMP_SUBDIR));
    assert_eq!(
        fs_err::read_to_string(work.path().join("out.txt")).unwrap(),
        "written"
    );
}

/// Proves Python never runs unsandboxed: without bubblewrap the run is refused with
/// `SandboxMissing` (and nothing is written).
#[tokio::test]
async fn without_bubblewrap_python_is_refused_not_run_unsandboxed() {
    let Some(env) = python_env() else { return };
    let (work, job) = job_with("open('ran.txt', 'w').write('ran')\n");
    let config = SandboxConfig {
        bwrap: PathBuf::from("/nonexistent/bwrap"),
        ..SandboxConfig::default()
    };
    let error = run_python(&config, &env, &job).await.unwrap_err();
    assert!(
        matches!(error, ProcessError::SandboxMissing { .. }),
        "{error:?}"
    );
    assert!(!work.path().join("ran.txt").exists());
}

/// Proves there is no network: a TCP connect to a port that listens on the host's loopback
/// (reachable from the test itself) and to an outside address both fail inside, and a DNS
/// lookup fails; the listener sees no connection.
#[tokio::test]
async fn python_has_no_network() {
    let Some(env) = python_env() else { return };
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    // The control: the port is reachable from outside the sandbox.
    drop(std::net::TcpStream::connect(("127.0.0.1", port)).unwrap());
    let _ = listener.accept().unwrap();
    let (_work, job) = job_with(&format!(
        "import socket\n\
         for host, port in (('127.0.0.1', {port}), ('1.1.1.1', 53), ('151.101.0.223', 443)):\n\
         \x20   try:\n\
         \x20       socket.create_connection((host, port), timeout=3).close(); print('connected', host)\n\
         \x20   except OSError as e:\n\
         \x20       print('refused', host, e)\n\
         try:\n\
         \x20   print('resolved', socket.gethostbyname('pypi.org'))\n\
         except OSError as e:\n\
         \x20   print('no dns', e)\n"
    ));
    let output = run(&env, &job).await;
    let out = text(&output);
    assert!(output.success(), "{out}");
    for host in ["127.0.0.1", "1.1.1.1", "151.101.0.223"] {
        assert!(out.contains(&format!("refused {host}")), "{out}");
    }
    assert!(
        !out.contains("connected") && !out.contains("resolved"),
        "{out}"
    );
    assert!(out.contains("no dns"), "{out}");
    assert!(
        listener.accept().is_err(),
        "the host listener got a connection"
    );
}

/// Proves the work dir is the only writable place: writes to the host's /tmp, to `$HOME` (the
/// host's), to the repository, to a read-only input and into the venv all fail, and no such
/// file appears on the host; a write in the work dir succeeds.
#[tokio::test]
async fn python_cannot_write_outside_its_work_dir() {
    let Some(env) = python_env() else { return };
    let tag = format!("autopilot-escape-{}", std::process::id());
    let home = PathBuf::from(std::env::var_os("HOME").unwrap());
    let inputs = tempfile::tempdir().unwrap();
    let input = inputs.path().join("input.csv");
    fs_err::write(&input, "a,b\n1,2\n").unwrap();
    let targets = [
        PathBuf::from("/tmp").join(&tag),
        home.join(&tag),
        crate::support::root().canonicalize().unwrap().join(&tag),
        input.clone(),
        env.root().join(&tag),
    ];
    let (work, job) = job_with(
        "import sys\n\
         for path in sys.argv[1:]:\n\
         \x20   try:\n\
         \x20       open(path, 'a').write('pwned'); print('wrote', path)\n\
         \x20   except OSError as e:\n\
         \x20       print('denied', path, e.strerror)\n\
         open('inside.txt', 'w').write('ok')\n",
    );
    let job = job.args(&targets).read_only(&input);
    let output = run(&env, &job).await;
    let out = text(&output);
    assert!(output.success(), "{out}");
    for target in &targets {
        assert!(
            out.contains(&format!("denied {}", target.display())),
            "{out}"
        );
    }
    assert!(!out.contains("wrote"), "{out}");
    for target in &targets[..3] {
        assert!(
            !target.exists(),
            "{} appeared on the host",
            target.display()
        );
    }
    assert!(!env.root().join(&tag).exists());
    assert_eq!(fs_err::read_to_string(&input).unwrap(), "a,b\n1,2\n");
    assert_eq!(
        fs_err::read_to_string(work.path().join("inside.txt")).unwrap(),
        "ok"
    );
}

/// The secret the probe below puts in the parent's environment.
const PROBE_SECRET: &str = "sk-autopilot-probe-5e1f";
/// Set (to "1") only when the test binary runs the probe as a child of the test below.
const PROBE_SWITCH: &str = "AUTOPILOT_PYTHON_SECRET_PROBE";

/// Proves secrets stay outside: an `OPENAI_API_KEY` set in the parent process (this test runs
/// the test binary again with it, as the probe below) is absent in Python's environment, as is
/// every other variable of the parent; the host's home folder and `/root` show nothing but the
/// folders the venv lives in, and a file of the host's home cannot be read.
#[tokio::test]
async fn python_sees_no_secrets_of_the_parent() {
    if python_env().is_none() {
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let spec = ProcessSpec::new(exe)
        .args([
            "--exact",
            "python::probe_secret_environment",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("OPENAI_API_KEY", PROBE_SECRET)
        .env(PROBE_SWITCH, "1")
        .timeout(Duration::from_secs(120));
    let output = process::run(&spec).await.unwrap();
    let out = text(&output);
    assert!(output.success(), "{out}");
    assert!(out.contains("probe: done"), "the probe did not run: {out}");
}

/// The probe of the test above; on its own (without the switch) it has nothing to check.
#[tokio::test]
async fn probe_secret_environment() {
    if std::env::var_os(PROBE_SWITCH).is_none() {
        return;
    }
    let env = python_env().expect("checked by the caller");
    assert_eq!(
        std::env::var("OPENAI_API_KEY").as_deref(),
        Ok(PROBE_SECRET),
        "the parent has the secret"
    );
    let home = PathBuf::from(std::env::var_os("HOME").unwrap());
    // A file of the host's home the sandbox must not read (the first regular one).
    let home_file = fs_err::read_dir(&home)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.is_file());
    let (work, job) = job_with(
        "import json, os, sys\n\
         def listing(path):\n\
         \x20   try:\n\
         \x20       return sorted(os.listdir(path))\n\
         \x20   except OSError as e:\n\
         \x20       return str(e)\n\
         def readable(path):\n\
         \x20   try:\n\
         \x20       open(path, 'rb').read(1); return True\n\
         \x20   except OSError:\n\
         \x20       return False\n\
         print(json.dumps({'env': dict(os.environ), 'home': listing(sys.argv[1]), 'root': listing('/root'),\n\
         \x20   'file': readable(sys.argv[2]) if len(sys.argv) > 2 else None, 'shadow': readable('/etc/shadow')}))\n",
    );
    let mut job = job.arg(&home);
    if let Some(file) = &home_file {
        job = job.arg(file);
    }
    let output = run(&env, &job).await;
    assert!(output.success(), "{}", text(&output));
    let seen: serde_json::Value = serde_json::from_str(output.stdout.text().trim()).unwrap();
    let inside = seen["env"].as_object().unwrap();
    assert!(!output.stdout.text().contains(PROBE_SECRET));
    assert!(!inside.contains_key("OPENAI_API_KEY"), "{inside:?}");
    // Nothing of the parent's environment but the names the sandbox sets itself.
    // (bwrap's `--chdir` sets `PWD`, to the work dir.)
    let own: BTreeSet<String> = python_spec(&SandboxConfig::default(), &env, &job)
        .get_env()
        .iter()
        .chain(&sandbox::base_environment())
        .map(|(name, _)| name.to_string_lossy().into_owned())
        .chain(["PWD".to_owned()])
        .collect();
    assert_eq!(inside["PWD"].as_str().map(Path::new), Some(work.path()));
    for (name, _) in std::env::vars() {
        assert!(
            own.contains(&name) || !inside.contains_key(&name),
            "{name} leaked into the sandbox"
        );
    }
    // What the sandbox shows of the host's home and /root: at most the first folder on the
    // way to a bound path (the venv, the base interpreter).
    let allowed: BTreeSet<String> = env
        .read_only_paths()
        .iter()
        .flat_map(|p| {
            [home.as_path(), Path::new("/root")]
                .into_iter()
                .filter_map(|dir| p.strip_prefix(dir).ok())
                .filter_map(|rest| rest.components().next())
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
        })
        .collect();
    for key in ["home", "root"] {
        if let Some(names) = seen[key].as_array() {
            for name in names {
                assert!(
                    allowed.contains(name.as_str().unwrap()),
                    "{key} shows {name} inside the sandbox (allowed: {allowed:?})"
                );
            }
        }
    }
    if home_file.is_some() {
        assert_eq!(seen["file"], false, "{home_file:?} was readable");
    }
    assert_eq!(seen["shadow"], false);
    #[expect(clippy::print_stdout, reason = "the parent test looks for this line")]
    {
        println!("probe: done");
    }
}

/// Proves a fork bomb is stopped and leaves the host fine: the script forks sleepers until
/// fork fails (at most 600 — a cap so that, as root, where the kernel ignores `RLIMIT_NPROC`,
/// the shared machine keeps its PIDs); as non-root the process limit (64) stops it; either way
/// the wall timeout ends the run, the whole PID namespace dies, no process is left and the host
/// still starts processes.
#[tokio::test]
async fn a_fork_bomb_is_stopped_and_leaves_no_process() {
    let Some(env) = python_env() else { return };
    let marker = format!("forkbomb-{}", std::process::id());
    let (_work, job) = job_with(
        "import os, sys, time\n\
         n = 0\n\
         try:\n\
         \x20   while n < 600:\n\
         \x20       if os.fork() == 0:\n\
         \x20           time.sleep(600); os._exit(0)\n\
         \x20       n += 1\n\
         except OSError as e:\n\
         \x20   print('fork failed after', n, e.strerror, flush=True)\n\
         print('forked', n, flush=True)\n\
         time.sleep(600)\n",
    );
    let limits = Limits {
        processes: Some(64),
        ..job.limits
    };
    let job = job
        .arg(&marker)
        .limits(limits)
        .timeout(Duration::from_secs(8));
    let start = Instant::now();
    let output = run(&env, &job).await;
    let out = text(&output);
    assert_eq!(output.termination, Termination::TimedOut, "{out}");
    assert!(start.elapsed() < Duration::from_secs(20), "{out}");
    if !is_root() {
        assert!(out.contains("fork failed after"), "{out}");
    }
    assert_eq!(
        survivors(|pid| has_marker(pid, &marker)).await,
        Vec::<i32>::new(),
        "survivors"
    );
    let after = process::run(&ProcessSpec::new("true")).await.unwrap();
    assert!(after.success(), "the host cannot start processes");
}

/// Proves a memory hog is stopped by the memory limits, quickly: filling 1 GiB of heap fails
/// at the 256 MiB data limit, and 4 GiB of shared anonymous memory (which `RLIMIT_DATA` does
/// not count) fails at the 2 GiB address-space backstop — each a `MemoryError` inside Python,
/// not a host out-of-memory.
#[tokio::test]
async fn a_memory_hog_is_stopped() {
    let Some(env) = python_env() else { return };
    let (_work, job) = job_with(
        "import mmap\n\
         try:\n\
         \x20   chunks = [bytearray(64 << 20) for _ in range(16)]\n\
         \x20   print('heap filled')\n\
         except MemoryError:\n\
         \x20   print('heap stopped')\n\
         try:\n\
         \x20   m = mmap.mmap(-1, 4 << 30, flags=mmap.MAP_SHARED)\n\
         \x20   for i in range(0, len(m), 1 << 20): m[i] = 1\n\
         \x20   print('shared filled')\n\
         except (MemoryError, OSError) as e:\n\
         \x20   print('shared stopped', e)\n",
    );
    let limits = Limits {
        data: Some(256 << 20),
        address_space: Some(2 << 30),
        ..job.limits
    };
    let start = Instant::now();
    let output = run(&env, &job.limits(limits)).await;
    let out = text(&output);
    assert!(output.success(), "{out}");
    assert!(out.contains("heap stopped"), "{out}");
    assert!(out.contains("shared stopped"), "{out}");
    assert!(start.elapsed() < Duration::from_secs(30), "{out}");
}

/// Proves a hang is killed at the wall timeout with its PID namespace: a script that ignores
/// SIGTERM and starts a child that does too is ended within the timeout plus the grace period,
/// and afterwards no host process is in its PID namespace (read from inside as
/// `/proc/self/ns/pid`) or carries its marker.
#[tokio::test]
async fn a_hang_is_killed_at_the_timeout_with_its_pid_namespace() {
    let Some(env) = python_env() else { return };
    let marker = format!("hang-{}", std::process::id());
    let (_work, job) = job_with(
        "import os, signal, time\n\
         signal.signal(signal.SIGTERM, signal.SIG_IGN)\n\
         if os.fork() == 0:\n\
         \x20   time.sleep(3600)\n\
         print(os.readlink('/proc/self/ns/pid'), flush=True)\n\
         while True:\n\
         \x20   time.sleep(1)\n",
    );
    let job = job.arg(&marker).timeout(Duration::from_secs(3));
    let start = Instant::now();
    let output = run(&env, &job).await;
    let elapsed = start.elapsed();
    assert_eq!(
        output.termination,
        Termination::TimedOut,
        "{}",
        text(&output)
    );
    // The timeout, the runner's 2 s grace, and slack for a busy machine.
    assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");
    let namespace = output.stdout.text().trim().to_owned();
    assert!(namespace.starts_with("pid:["), "{}", text(&output));
    assert_eq!(
        survivors(|pid| has_marker(pid, &marker)).await,
        Vec::<i32>::new(),
        "survivors"
    );
    let in_namespace = survivors(|pid| {
        fs_err::read_link(format!("/proc/{pid}/ns/pid"))
            .is_ok_and(|link| link.to_string_lossy() == namespace)
    })
    .await;
    assert_eq!(
        in_namespace,
        Vec::<i32>::new(),
        "{namespace} still has processes"
    );
}

/// Proves a huge file write is stopped at the file-size limit: writing 1 GiB under a 16 MiB
/// limit fails with "File too large" and the file stops at the limit.
#[tokio::test]
async fn a_huge_file_is_stopped_at_the_file_size_limit() {
    let Some(env) = python_env() else { return };
    let (work, job) = job_with(
        "chunk = b'x' * (1 << 20)\n\
         try:\n\
         \x20   with open('huge.bin', 'wb') as f:\n\
         \x20       for _ in range(1024): f.write(chunk)\n\
         \x20   print('wrote 1 GiB')\n\
         except OSError as e:\n\
         \x20   print('stopped', e.strerror)\n",
    );
    let limits = Limits {
        file_size: Some(16 << 20),
        ..job.limits
    };
    let output = run(&env, &job.limits(limits)).await;
    let out = text(&output);
    assert!(output.success(), "{out}");
    assert!(out.contains("stopped File too large"), "{out}");
    let size = fs_err::metadata(work.path().join("huge.bin"))
        .unwrap()
        .len();
    assert!(size <= 16 << 20, "{size} bytes");
}

/// The bubblewrap command of a job: the venv and inputs read-only, the work dir writable, the
/// job's limits applied, the venv's python in isolated mode.
#[test]
fn the_python_command_binds_the_venv_read_only_and_the_work_dir_writable() {
    let venv = tempfile::tempdir().unwrap();
    fs_err::create_dir_all(venv.path().join("bin")).unwrap();
    fs_err::write(venv.path().join("bin/python3"), "").unwrap();
    fs_err::write(
        venv.path().join("pyvenv.cfg"),
        "home = /opt/python/3.11/bin\nversion = 3.11.7\n",
    )
    .unwrap();
    let env = PythonEnv::at(venv.path()).unwrap();
    assert_eq!(
        env.read_only_paths(),
        vec![venv.path().to_owned(), PathBuf::from("/opt/python/3.11")]
    );
    let job = PythonJob::new("/work/run/step.py", "/work/run/out")
        .arg("--x")
        .read_only("/data/raw.csv");
    let spec = python_spec(&SandboxConfig::default(), &env, &job);
    let args: Vec<String> = spec
        .get_sandbox()
        .unwrap()
        .arguments(
            spec.program(),
            spec.get_args(),
            Some(Path::new("/work/run/out")),
        )
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let joined = args.join(" ");
    let venv_path = venv.path().display();
    for expected in [
        format!("--ro-bind-try {venv_path} {venv_path}"),
        "--ro-bind-try /opt/python/3.11 /opt/python/3.11".to_owned(),
        "--ro-bind-try /data/raw.csv /data/raw.csv".to_owned(),
        "--ro-bind-try /work/run/step.py /work/run/step.py".to_owned(),
        "--bind /work/run/out /work/run/out".to_owned(),
        "--remount-ro / --remount-ro /tmp --remount-ro /dev --chdir /work/run/out --".to_owned(),
        format!(
            "/usr/bin/prlimit --as=8589934592 --data=2147483648 --cpu=300 --nproc=256 \
             --fsize=134217728 -- {venv_path}/bin/python3 -I -B /work/run/step.py --x"
        ),
    ] {
        assert!(joined.contains(&expected), "{expected:?} in {joined}");
    }
    let env_of = |name: &str| {
        spec.get_env()
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.to_string_lossy().into_owned())
    };
    assert_eq!(env_of("HOME").as_deref(), Some("/work/run/out"));
    assert_eq!(env_of("TMPDIR").as_deref(), Some("/work/run/out/.tmp"));
}

/// Where the environment is found, and the fix named when it is not.
#[test]
fn the_environment_is_found_by_override_or_pointer_and_its_absence_names_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let pointer = dir.path().join("python-env");
    let error = PythonEnv::locate(None, Some(&pointer)).unwrap_err();
    assert!(matches!(error, PythonEnvError::Missing { .. }), "{error}");
    assert!(
        error.to_string().contains("bash scripts/setup-python.sh")
            && error.to_string().contains("python-env"),
        "{error}"
    );
    let venv = dir.path().join("venv");
    fs_err::create_dir_all(venv.join("bin")).unwrap();
    fs_err::write(venv.join("bin/python3"), "").unwrap();
    fs_err::write(&pointer, format!("{}\n", venv.display())).unwrap();
    // No pyvenv.cfg: not a venv.
    let error = PythonEnv::locate(None, Some(&pointer)).unwrap_err();
    assert!(matches!(error, PythonEnvError::Invalid { .. }), "{error}");
    assert!(error.to_string().contains("pyvenv.cfg"), "{error}");
    fs_err::write(venv.join("pyvenv.cfg"), "home = /usr/bin\n").unwrap();
    let env = PythonEnv::locate(None, Some(&pointer)).unwrap();
    assert_eq!(env.root(), venv);
    assert_eq!(env.python(), venv.join("bin/python3"));
    // A system interpreter needs no extra bind.
    assert_eq!(env.read_only_paths(), vec![venv.clone()]);
    // The override wins over the pointer.
    let error =
        PythonEnv::locate(Some(dir.path().join("elsewhere").into()), Some(&pointer)).unwrap_err();
    assert!(error.to_string().contains("elsewhere"), "{error}");
}
