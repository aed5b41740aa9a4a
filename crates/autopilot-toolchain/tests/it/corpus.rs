//! The diagnostics parser on real arduino-cli output for the Nano 33 BLE (arm-none-eabi-gcc 7),
//! read at test time from the published logs (never copied into the repository): chosen records
//! with their expected diagnostics, and every compile-error record parsed without loss.

use std::path::Path;
use std::sync::LazyLock;

use autopilot_toolchain::diagnostics::{ParsedDiagnostics, PathMap, parse_gcc_output};
use autopilot_trace::{DiagnosticOrigin, Severity};
use regex::Regex;

use crate::support::corpus;

static HEADER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d{3}) (INFO|ERROR) (.+?)_([0-9a-f]+)_sg_batch\|([0-9a-f]+)_sg: (.*)$").unwrap()
});
static TRY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^Error in code execution try NO\.(\d+): (.*)$").unwrap());
static SKETCH_DIR: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(/home/[^\s:]+/compiling/compiling\d+)/").unwrap());
/// A line GCC prints for an error (not an echo of source code, which is indented).
static ERROR_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\S.*?:\d+:(?:\d+:)? (?:fatal error|error): |^collect2: error: |^\S*ld: ").unwrap()
});

/// One `Error in code execution try NO.n:` record: the compiler's output as arduino-cli
/// printed it (the header carries its first line).
pub struct CompileRecord {
    pub file: String,
    pub session: String,
    pub attempt: u32,
    pub text: String,
}

impl CompileRecord {
    /// The sketch folder of this compile (`…/compiling/compilingYYYYMMDDHHMMSS`).
    pub fn sketch_dir(&self) -> Option<String> {
        SKETCH_DIR.captures(&self.text).map(|c| c[1].to_owned())
    }

    pub fn parse(&self) -> ParsedDiagnostics {
        let mut paths = PathMap::new().with("/home/wuguangh/Arduino/libraries", "<libraries>");
        if let Some(dir) = self.sketch_dir() {
            paths = paths.with(Path::new(&dir), "");
        }
        parse_gcc_output(&self.text, &paths)
    }
}

pub fn compile_records(corpus: &Path) -> Vec<CompileRecord> {
    let mut logs: Vec<_> = fs_err::read_dir(corpus.join("raw_logs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    logs.sort();
    let mut records = Vec::new();
    for log in logs {
        let text = fs_err::read_to_string(&log).unwrap();
        let file = log.file_name().unwrap().to_string_lossy().into_owned();
        let lines: Vec<&str> = text.lines().collect();
        let mut i = 0;
        while i < lines.len() {
            let Some(header) = HEADER.captures(lines[i]) else {
                i += 1;
                continue;
            };
            let mut end = i + 1;
            while end < lines.len() && !HEADER.is_match(lines[end]) {
                end += 1;
            }
            if let Some(attempt) = TRY.captures(&header[6]) {
                let mut body = vec![attempt[2].to_owned()];
                for line in &lines[i + 1..end] {
                    body.push((*line).to_owned());
                    if line.starts_with("Error during build:") {
                        break;
                    }
                }
                records.push(CompileRecord {
                    file: file.clone(),
                    session: header[5].to_owned(),
                    attempt: attempt[1].parse().unwrap(),
                    text: body.join("\n"),
                });
            }
            i = end;
        }
    }
    records
}

fn find<'a>(
    records: &'a [CompileRecord],
    file: &str,
    session: &str,
    attempt: u32,
) -> &'a CompileRecord {
    records
        .iter()
        .find(|r| r.file == file && r.session == session && r.attempt == attempt)
        .unwrap_or_else(|| panic!("no record {file} {session} try {attempt}"))
}

#[test]
fn every_compile_error_record_parses_without_loss() {
    let Some(corpus) = corpus() else { return };
    let records = compile_records(&corpus);
    assert_eq!(
        records.len(),
        928,
        "FORMAT.md counts 928 `Error in code execution` records"
    );
    let mut errors = 0;
    for record in &records {
        let parsed = record.parse();
        let error_lines = record
            .text
            .lines()
            .filter(|l| ERROR_LINE.is_match(l))
            .count();
        assert_eq!(
            parsed.error_count(),
            error_lines,
            "{} {} try {}: {} error lines, {} errors parsed:\n{}",
            record.file,
            record.session,
            record.attempt,
            error_lines,
            parsed.error_count(),
            record.text
        );
        assert!(
            parsed.unrecognized.is_empty(),
            "{} {} try {}: unrecognized lines {:?}",
            record.file,
            record.session,
            record.attempt,
            parsed.unrecognized
        );
        assert!(
            error_lines > 0,
            "{} {} try {} has no error",
            record.file,
            record.session,
            record.attempt
        );
        errors += error_lines;
    }
    // FORMAT.md: 8,831 `file:L:C: error:` lines plus the fatal errors of the records.
    assert!(errors > 8_831, "{errors}");
}

/// One expected diagnostic: its index, severity, `file:line[:col]`, message, context and
/// notes (`file:line:col: message`, or the message alone when the note has no location).
struct Expect {
    index: usize,
    severity: Severity,
    at: &'static str,
    message: &'static str,
    context: &'static [&'static str],
    notes: Option<&'static [&'static str]>,
}

const fn error(index: usize, at: &'static str, message: &'static str) -> Expect {
    Expect {
        index,
        severity: Severity::Error,
        at,
        message,
        context: &[],
        notes: Some(&[]),
    }
}

const fn fatal(at: &'static str, message: &'static str) -> Expect {
    Expect {
        index: 0,
        severity: Severity::Fatal,
        at,
        message,
        context: &[],
        notes: Some(&[]),
    }
}

impl Expect {
    const fn context(mut self, context: &'static [&'static str]) -> Self {
        self.context = context;
        self
    }

    const fn notes(mut self, notes: &'static [&'static str]) -> Self {
        self.notes = Some(notes);
        self
    }

    const fn any_notes(mut self) -> Self {
        self.notes = None;
        self
    }
}

fn location(file: Option<&str>, line: Option<u32>, column: Option<u32>) -> String {
    let mut at = file.unwrap_or_default().to_owned();
    for number in [line, column].into_iter().flatten() {
        at = format!("{at}:{number}");
    }
    at
}

fn check(
    records: &[CompileRecord],
    (file, session, attempt): (&str, &str, u32),
    errors: usize,
    expected: &[Expect],
) {
    let record = find(records, file, session, attempt);
    let parsed = record.parse();
    let id = format!("{file} {session} try {attempt}");
    assert_eq!(parsed.error_count(), errors, "{id}: error count");
    assert!(
        parsed.unrecognized.is_empty(),
        "{id}: {:?}",
        parsed.unrecognized
    );
    for expect in expected {
        let d = &parsed.diagnostics[expect.index];
        let what = format!("{id}, diagnostic {}", expect.index);
        assert_eq!(d.severity, expect.severity, "{what}: severity");
        assert_eq!(d.origin, DiagnosticOrigin::Compiler, "{what}: origin");
        assert_eq!(
            location(d.file.as_deref(), d.line, d.column),
            expect.at,
            "{what}: location"
        );
        assert_eq!(d.message, expect.message, "{what}: message");
        assert_eq!(d.context, expect.context, "{what}: context");
        if let Some(notes) = expect.notes {
            let rendered: Vec<String> = d
                .notes
                .iter()
                .map(|n| match &n.file {
                    Some(_) => format!(
                        "{}: {}",
                        location(n.file.as_deref(), n.line, n.column),
                        n.message
                    ),
                    None => n.message.clone(),
                })
                .collect();
            assert_eq!(rendered, notes, "{what}: notes");
        }
    }
}

const SETUP: &[&str] = &["In function 'void setup()'"];
const LOOP: &[&str] = &["In function 'void loop()'"];

#[test]
fn chosen_records_parse_into_their_diagnostics() {
    let Some(corpus) = corpus() else { return };
    let records = compile_records(&corpus);
    let gpt = "sg_gpt4o_7677.log";
    let gemma = "sg_gemma3_27b_fb25.log";
    let qwen = "sg_qwen2.5-coder_32b_e884.log";
    let c87 = "sg_codestral_87c9.log";
    let cb4 = "sg_codestral_b4ca.log";
    let c09 = "sg_codestral_095a.log";

    // Missing headers: removed TFLM headers, invented ones, another board's core, a library's own include.
    check(
        &records,
        (gpt, "7f79", 1),
        1,
        &[fatal(
            "compiling20250410115656.ino:3:10",
            "tensorflow/lite/micro/kernels/AllOpsResolver.h: No such file or directory",
        )],
    );
    check(
        &records,
        (gpt, "5e83", 2),
        1,
        &[fatal(
            "<libraries>/TensorFlowLite_ESP32/src/bus/i2c_bus.c:19:10",
            "freertos/FreeRTOS.h: No such file or directory",
        )],
    );
    check(
        &records,
        (gemma, "009d", 1),
        1,
        &[fatal(
            "compiling20250409040426.ino:2:10",
            "Arduino_LIS33GH.h: No such file or directory",
        )],
    );
    check(
        &records,
        (cb4, "5e61", 1),
        1,
        &[fatal(
            "compiling20250327070904.ino:4:13",
            "tensorflow/lite/micro/all_ops_resolver.h: No such file or directory",
        )],
    );
    check(
        &records,
        (c87, "6351", 1),
        1,
        &[fatal(
            "compiling20250321152057.ino:5:10",
            "model.tflite.h: No such file or directory",
        )],
    );
    check(
        &records,
        (c87, "e2a3", 1),
        1,
        &[fatal(
            "compiling20250321152459.ino:3:10",
            "{decide_when_generating_code_based_on_given_board_and_application_description}.h: No such file or directory",
        )],
    );
    check(
        &records,
        (c09, "5158", 5),
        1,
        &[fatal(
            "compiling20250415130215.ino:3:10",
            "tensorflow/lite/micro/micro_log.h: No such file or directory",
        )],
    );
    check(
        &records,
        (cb4, "0507", 1),
        1,
        &[fatal(
            "compiling20250327083148.ino:3:10",
            "SoftwareSerial.h: No such file or directory",
        )],
    );

    // A wrong sensor API.
    check(
        &records,
        (c87, "f078", 5),
        1,
        &[error(
            0,
            "compiling20250321154541.ino:65:13",
            "'class APDS9960' has no member named 'readAmbientLight'",
        )
        .context(LOOP)],
    );
    // The model header's array name, guessed wrong.
    check(
        &records,
        (gpt, "0078", 5),
        1,
        &[error(
            0,
            "compiling20250410131148.ino:46:32",
            "'g_model' was not declared in this scope",
        )
        .context(SETUP)
        .notes(&["compiling20250410131148.ino:46:32: suggested alternative: 'model'"])],
    );
    // An ErrorReporter that became abstract; notes in the library, one of them tab-indented.
    check(&records, (gpt, "0078", 4), 2, &[
        error(0, "compiling20250410131059.ino:34:32", "cannot declare variable 'error_reporter_local' to be of abstract type 'tflite::ErrorReporter'")
            .context(SETUP)
            .notes(&[
                "<libraries>/Harvard_TinyMLx/src/tensorflow/lite/core/api/error_reporter.h:35:7: because the following virtual functions are pure within 'tflite::ErrorReporter':",
                "<libraries>/Harvard_TinyMLx/src/tensorflow/lite/core/api/error_reporter.h:38:15: virtual int tflite::ErrorReporter::Report(const char*, va_list)",
            ]),
        error(1, "compiling20250410131059.ino:37:32", "'g_model' was not declared in this scope").context(SETUP).any_notes(),
    ]);
    // Private API, and `model` clashing with the model header (notes in two files).
    check(
        &records,
        (gpt, "01c6", 2),
        5,
        &[
            error(
                0,
                "compiling20250410131337.ino:34:20",
                "'bool APDS9960::enableColor()' is private within this context",
            )
            .context(SETUP)
            .notes(&[
                "<libraries>/Arduino_APDS9960/src/Arduino_APDS9960.h:66:8: declared private here",
            ]),
            error(
                1,
                "compiling20250410131337.ino:36:3",
                "reference to 'model' is ambiguous",
            )
            .context(SETUP)
            .notes(&[
                "model.h:1:21: candidates are: const unsigned char model [2528]",
                "compiling20250410131337.ino:14:24: const tflite::Model* {anonymous}::model",
            ]),
            error(
                4,
                "compiling20250410131337.ino:43:54",
                "reference to 'model' is ambiguous",
            )
            .context(SETUP)
            .any_notes(),
        ],
    );
    // TFLM names missing from the installed library, across two functions.
    check(
        &records,
        (cb4, "2bba", 5),
        7,
        &[
            error(
                0,
                "compiling20250327074226.ino:14:13",
                "'MicroInterpreter' is not a member of 'tflite'",
            )
            .context(&["In function 'void initializeTensorFlow()'"])
            .notes(&[
                "compiling20250327074226.ino:14:13: suggested alternative: 'MicroOpResolver'",
            ]),
            error(
                5,
                "compiling20250327074226.ino:27:22",
                "'tflite::MicroInterpreter' has not been declared",
            )
            .context(&["In function 'void initializeTensorFlow()'"]),
            error(
                6,
                "compiling20250327074226.ino:54:34",
                "'interpreter' was not declared in this scope",
            )
            .context(LOOP)
            .any_notes(),
        ],
    );
    // Member-function frames and `At global scope:`.
    check(
        &records,
        (gemma, "c131", 3),
        16,
        &[
            error(
                0,
                "compiling20250409054734.ino:15:5",
                "'va_start' was not declared in this scope",
            )
            .context(&["In member function 'void ErrorReporter::Report(const char*, ...)'"])
            .notes(&["compiling20250409054734.ino:15:5: suggested alternative: 'stat'"]),
            error(
                2,
                "compiling20250409054734.ino:24:7",
                "'tflite' does not name a type; did you mean 'write'?",
            )
            .context(&["At global scope"]),
        ],
    );
    // A suggestion whose text sits in a library header reached through an include chain.
    check(&records, (c87, "0f92", 1), 8, &[
        error(0, "compiling20250321161731.ino:24:5", "reference to 'model' is ambiguous").context(SETUP).notes(&[
            "model.h:1:21: candidates are: const unsigned char model [2528]",
            "compiling20250321161731.ino:13:22: const tflite::Model* {anonymous}::model",
        ]),
        error(2, "compiling20250321161731.ino:24:13", "'GetModel' was not declared in this scope").context(SETUP).notes(&[
            "compiling20250321161731.ino:24:13: suggested alternative:",
            "<libraries>/Harvard_TinyMLx/src/tensorflow/lite/schema/schema_generated.h:17090:29: 'tflite::GetModel'",
        ]),
        error(5, "compiling20250321161731.ino:29:50", "'tensor_element_size' is not a member of 'tflite'").context(SETUP),
    ]);
    // The record whose first line is `In file included from`: errors inside the model header.
    check(
        &records,
        (gemma, "47cc", 2),
        3,
        &[
            error(
                0,
                "model.h:1:1",
                "expected primary-expression before 'const'",
            )
            .context(&["In file included from compiling20250409061156.ino:9"]),
            error(1, "model.h:1:1", "expected '}' before 'const'")
                .context(&["In file included from compiling20250409061156.ino:9"]),
            error(
                2,
                "compiling20250409061156.ino:10:1",
                "expected declaration before '}' token",
            ),
        ],
    );
    check(&records, (qwen, "2d55", 5), 8, &[
        error(0, "model.h:1:27", "conflicting declaration 'const unsigned char model []'")
            .context(&["In file included from compiling20250326141735.ino:27"])
            .notes(&["compiling20250326141735.ino:12:22: previous declaration as 'const tflite::Model* model'"]),
        error(1, "compiling20250326141735.ino:38:27", "'TFLITE_SCHEMA_VERSION' was not declared in this scope").context(SETUP).any_notes(),
        error(3, "compiling20250326141735.ino:68:33", "no matching function for call to 'Adafruit_APDS9960::getColorData(uint16_t*, uint16_t*, uint16_t*)'")
            .context(LOOP)
            .notes(&[
                "<libraries>/Adafruit_APDS9960_Library/Adafruit_APDS9960.h:213:8: candidate: void Adafruit_APDS9960::getColorData(uint16_t*, uint16_t*, uint16_t*, uint16_t*)",
                "<libraries>/Adafruit_APDS9960_Library/Adafruit_APDS9960.h:213:8: candidate expects 4 arguments, 3 provided",
            ]),
        error(4, "compiling20250326141735.ino:88:22", r"\uD83C is not a valid universal character").context(LOOP),
    ]);
    // The old MicroInterpreter constructor with an ErrorReporter: six candidate notes.
    check(&records, (c09, "5679", 1), 9, &[
        error(0, "compiling20250415115220.ino:11:22", "conflicting declaration 'const tflite::Model* model'")
            .notes(&["model.h:1:21: previous declaration as 'const unsigned char model [2528]'"]),
        error(5, "compiling20250415115220.ino:30:16", "request for member 'version' in '*(const unsigned char*)(& model)', which is of non-class type 'const unsigned char'").context(SETUP),
        error(7, "compiling20250415115220.ino:39:123", "no matching function for call to 'tflite::MicroInterpreter::MicroInterpreter(const unsigned char [2528], tflite::AllOpsResolver&, int [2048], unsigned int, tflite::ErrorReporter*&)'")
            .context(SETUP)
            .notes(&[
                "<libraries>/Harvard_TinyMLx/src/tensorflow/lite/micro/micro_interpreter.h:92:3: candidate: tflite::MicroInterpreter::MicroInterpreter(const tflite::Model*, const tflite::MicroOpResolver&, tflite::MicroAllocator*, tflite::ErrorReporter*, tflite::Profiler*)",
                "<libraries>/Harvard_TinyMLx/src/tensorflow/lite/micro/micro_interpreter.h:92:3: no known conversion for argument 1 from 'const unsigned char [2528]' to 'const tflite::Model*'",
                "<libraries>/Harvard_TinyMLx/src/tensorflow/lite/micro/micro_interpreter.h:82:3: candidate: tflite::MicroInterpreter::MicroInterpreter(const tflite::Model*, const tflite::MicroOpResolver&, uint8_t*, size_t, tflite::ErrorReporter*, tflite::Profiler*)",
                "<libraries>/Harvard_TinyMLx/src/tensorflow/lite/micro/micro_interpreter.h:82:3: no known conversion for argument 1 from 'const unsigned char [2528]' to 'const tflite::Model*'",
                "<libraries>/Harvard_TinyMLx/src/tensorflow/lite/micro/micro_interpreter.h:73:7: candidate: constexpr tflite::MicroInterpreter::MicroInterpreter(const tflite::MicroInterpreter&)",
                "<libraries>/Harvard_TinyMLx/src/tensorflow/lite/micro/micro_interpreter.h:73:7: candidate expects 1 argument, 5 provided",
            ]),
        error(8, "compiling20250415115220.ino:60:34", "no matching function for call to 'Adafruit_NeoPixel::getPixelColor(int, float [3])'").context(LOOP).any_notes(),
    ]);
    // Emoji in string literals.
    check(
        &records,
        (gemma, "054c", 4),
        15,
        &[
            error(
                0,
                "compiling20250409043201.ino:9:1",
                "'tflite' does not name a type; did you mean 'write'?",
            ),
            error(
                14,
                "compiling20250409043201.ino:95:15",
                r"\uDF44 is not a valid universal character",
            )
            .context(LOOP),
        ],
    );
    // A second include of the model header, at global scope after a function.
    check(&records, (qwen, "e0c7", 3), 37, &[
        error(0, "compiling20250326151635.ino:17:22", "conflicting declaration 'const tflite::Model* model'")
            .notes(&["model.h:1:21: previous declaration as 'const unsigned char model [2528]'"]),
        error(15, "model.h:1:27", "redefinition of 'const unsigned char model []'")
            .context(&["In file included from compiling20250326151635.ino:120", "At global scope"])
            .notes(&["model.h:1:21: 'const unsigned char model [2528]' previously defined here"]),
        error(16, "compiling20250326151635.ino:122:28", "redefinition of 'tflite::MicroErrorReporter micro_error_reporter'")
            .notes(&["compiling20250326151635.ino:14:28: 'tflite::MicroErrorReporter micro_error_reporter' previously defined here"]),
    ]);
    // Pre-2023 TFLM code against a newer library, and a sensor constructor that needs arguments.
    check(&records, (gpt, "7f79", 2), 9, &[
        error(0, "compiling20250410115713.ino:15:22", "conflicting declaration 'const tflite::Model* model'")
            .notes(&["model.h:1:21: previous declaration as 'const unsigned char model [2528]'"]),
        error(1, "compiling20250410115713.ino:25:10", "no matching function for call to 'APDS9960::APDS9960()'").notes(&[
            "<libraries>/Arduino_APDS9960/src/Arduino_APDS9960.h:36:3: candidate: APDS9960::APDS9960(TwoWire&, int)",
            "<libraries>/Arduino_APDS9960/src/Arduino_APDS9960.h:36:3: candidate expects 2 arguments, 0 provided",
            "<libraries>/Arduino_APDS9960/src/Arduino_APDS9960.h:34:7: candidate: constexpr APDS9960::APDS9960(const APDS9960&)",
            "<libraries>/Arduino_APDS9960/src/Arduino_APDS9960.h:34:7: candidate expects 1 argument, 0 provided",
        ]),
        error(4, "compiling20250410115713.ino:51:18", "'MicroMutableOpResolver' in namespace 'tflite' does not name a template type").context(SETUP),
    ]);
    check(
        &records,
        (c87, "9208", 4),
        13,
        &[
            error(
                0,
                "compiling20250321155057.ino:20:14",
                "'GetModel' was not declared in this scope",
            )
            .context(SETUP)
            .any_notes(),
            error(
                2,
                "compiling20250321155057.ino:25:4",
                "'interpreter' does not name a type",
            )
            .context(&["At global scope"]),
            error(
                5,
                "compiling20250321155057.ino:33:9",
                "redefinition of 'void setup()'",
            )
            .context(SETUP)
            .any_notes(),
        ],
    );
}
