//! Every command the host run executes, built by pure functions (so a sandbox can later wrap
//! them in one place), and the one helper that runs a spec and insists on success.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use autopilot_toolchain::process::{self, ProcessOutput, ProcessSpec};

use crate::HostError;

/// Flags of every TFLM, adapter, core and sketch translation unit (from the prototype's
/// measurements; `-funsigned-char` because `char` is unsigned on the ARM boards).
pub const CXX_FLAGS: &[&str] = &[
    "-std=gnu++14",
    "-Os",
    "-fno-rtti",
    "-fno-exceptions",
    "-fno-threadsafe-statics",
    "-funsigned-char",
    "-DTF_LITE_STATIC_MEMORY",
    "-DGEMMLOWP_ALLOW_SLOW_SCALAR_FALLBACK",
];

/// Flags of the user's installed TFLM library and of sketches built against it: the board's
/// build has no `TF_LITE_STATIC_MEMORY` (the library's `kernel_util` needs the full
/// `TfLiteNode`), so neither do these; `-DARDUINO` selects the library's Arduino kernels
/// (CMSIS-NN) as on the board.
pub const INSTALLED_CXX_FLAGS: &[&str] = &[
    "-std=gnu++14",
    "-Os",
    "-fno-rtti",
    "-fno-exceptions",
    "-fno-threadsafe-statics",
    "-funsigned-char",
    "-DGEMMLOWP_ALLOW_SLOW_SCALAR_FALLBACK",
    "-DARDUINO=10819",
];

/// Flags of the C units of the installed library (CMSIS-NN, kissfft, the audio frontend).
pub const INSTALLED_C_FLAGS: &[&str] = &["-std=gnu11", "-Os", "-funsigned-char", "-DARDUINO=10819"];

/// The 2020 TFLM lives in namespace `tflite2020`, so a profile's facade can own `tflite::`.
pub const RENAME_2020: &str = "-Dtflite=tflite2020";

/// The host C++ compiler: program, version line and whether it builds 32-bit code (`-m32`,
/// g++-multilib), which gives arena sizes close to a Cortex-M's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostCompiler {
    pub program: PathBuf,
    pub version: String,
    pub m32: bool,
}

impl HostCompiler {
    /// Asks `program --version` and tries a `-m32` link in `scratch`.
    pub async fn detect(program: &Path, scratch: &Path) -> Result<HostCompiler, HostError> {
        let out = run_ok(&ProcessSpec::new(program).arg("--version")).await?;
        let version = out
            .stdout
            .text()
            .lines()
            .next()
            .unwrap_or_default()
            .trim()
            .to_owned();
        fs_err::create_dir_all(scratch).map_err(|e| HostError::Io {
            path: scratch.to_owned(),
            source: e,
        })?;
        let probe = scratch.join("m32-probe.cc");
        fs_err::write(
            &probe,
            "int main() { return sizeof(void*) == 4 ? 0 : 1; }\n",
        )
        .map_err(|e| HostError::Io {
            path: probe.clone(),
            source: e,
        })?;
        let spec = ProcessSpec::new(program)
            .arg("-m32")
            .arg(&probe)
            .arg("-o")
            .arg(scratch.join("m32-probe"))
            .timeout(Duration::from_secs(60));
        let m32 = run(&spec).await?.success();
        Ok(HostCompiler {
            program: program.to_owned(),
            version,
            m32,
        })
    }

    /// The machine flag (`-m32` or none).
    pub fn machine_flags(&self) -> Vec<&'static str> {
        if self.m32 { vec!["-m32"] } else { Vec::new() }
    }

    /// `g++ <flags> -I… -c src -o obj` (C sources are compiled as C++, as the library's
    /// headers declare their C parts `extern "C"`).
    pub fn compile_spec(
        &self,
        extra_flags: &[&str],
        includes: &[PathBuf],
        source: &Path,
        object: &Path,
    ) -> ProcessSpec {
        self.compile_spec_as("c++", CXX_FLAGS, extra_flags, includes, source, object)
    }

    /// `g++ -x <language> <base> <extra> -I… -c src -o obj`.
    pub fn compile_spec_as(
        &self,
        language: &str,
        base_flags: &[&str],
        extra_flags: &[&str],
        includes: &[PathBuf],
        source: &Path,
        object: &Path,
    ) -> ProcessSpec {
        let mut args: Vec<OsString> = vec!["-x".into(), language.into()];
        args.extend(self.machine_flags().into_iter().map(OsString::from));
        args.extend(base_flags.iter().map(OsString::from));
        args.extend(extra_flags.iter().map(OsString::from));
        for dir in includes {
            let mut flag = OsString::from("-I");
            flag.push(dir);
            args.push(flag);
        }
        args.extend(["-c".into(), source.into(), "-o".into(), object.into()]);
        ProcessSpec::new(&self.program)
            .args(args)
            .timeout(Duration::from_secs(300))
    }

    /// `g++ objects… archives… -Wl,--wrap=… -o binary`.
    pub fn link_spec(&self, inputs: &[PathBuf], wraps: &[&str], binary: &Path) -> ProcessSpec {
        let mut args: Vec<OsString> = self
            .machine_flags()
            .into_iter()
            .map(OsString::from)
            .collect();
        args.extend(inputs.iter().map(OsString::from));
        for symbol in wraps {
            args.push(format!("-Wl,--wrap={symbol}").into());
        }
        args.extend(["-o".into(), binary.into()]);
        ProcessSpec::new(&self.program)
            .args(args)
            .timeout(Duration::from_secs(120))
    }
}

/// `ar rcs archive objects…`.
pub fn archive_spec(archive: &Path, objects: &[PathBuf]) -> ProcessSpec {
    ProcessSpec::new("ar")
        .arg("rcs")
        .arg(archive)
        .args(objects)
        .timeout(Duration::from_secs(120))
}

/// `tar -xzf crate -C dir`.
pub fn extract_spec(archive: &Path, dir: &Path) -> ProcessSpec {
    ProcessSpec::new("tar")
        .arg("-xzf")
        .arg(archive)
        .arg("-C")
        .arg(dir)
        .timeout(Duration::from_secs(300))
}

/// `cargo <subcommand> --manifest-path manifest …`.
pub fn cargo_spec(cargo: &Path, subcommand: &str, manifest: &Path, extra: &[&str]) -> ProcessSpec {
    ProcessSpec::new(cargo)
        .arg(subcommand)
        .arg("--manifest-path")
        .arg(manifest)
        .args(extra)
        .timeout(Duration::from_secs(600))
}

/// arduino-ctags as the Arduino builders call it to find the functions that need prototypes.
pub fn ctags_spec(ctags: &Path, source: &Path) -> ProcessSpec {
    ProcessSpec::new(ctags)
        .args([
            "-u",
            "--language-force=c++",
            "-f",
            "-",
            "--c++-kinds=svpf",
            "--fields=KSTtzns",
            "--line-directives",
        ])
        .arg(source)
        .timeout(Duration::from_secs(60))
}

/// The built sketch, with its log and scene files named in the environment.
pub fn run_spec(binary: &Path, log: &Path, scene: &Path, budget: Duration) -> ProcessSpec {
    ProcessSpec::new(binary)
        .env("AUTOPILOT_HOST_LOG", log)
        .env("AUTOPILOT_HOST_SCENE", scene)
        .timeout(budget)
        .grace(Duration::from_millis(200))
}

/// Whether a file name ends in one of the extensions (without the dot), ignoring case.
pub fn has_extension(name: &str, extensions: &[&str]) -> bool {
    Path::new(name)
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| extensions.iter().any(|x| e.eq_ignore_ascii_case(x)))
}

/// Runs a spec; only a spawn failure is an `Err` (the exit is the caller's to judge).
pub async fn run(spec: &ProcessSpec) -> Result<ProcessOutput, HostError> {
    process::run(spec)
        .await
        .map_err(|source| HostError::Process {
            command: spec.display(),
            source,
        })
}

/// Runs a spec; a spawn failure or a non-zero exit is an `Err` carrying the output.
pub async fn run_ok(spec: &ProcessSpec) -> Result<ProcessOutput, HostError> {
    let out = run(spec).await?;
    if !out.success() {
        return Err(HostError::Tool {
            command: spec.display(),
            code: out.exit_code(),
            output: format!("{}{}", out.stdout.text_marked(), out.stderr.text_marked()),
        });
    }
    Ok(out)
}
