//! Code extraction from LLM answers.

use autopilot_steps::{
    CHECK_COMPETING_SKETCHES, CHECK_NO_CODE, ExtractionFailure, extract_code, fenced_blocks,
    strip_reasoning,
};
use autopilot_trace::Stage;

const SKETCH: &str = "#include \"model.h\"\nvoid setup() {\n  Serial.begin(9600);\n}\nvoid loop() {\n  Serial.println(\"a\");\n}\n";

fn answer(tag: &str, code: &str) -> String {
    format!("Here is the sketch.\n\n```{tag}\n{code}```\n\nIt prints the class.\n")
}

#[test]
fn any_code_fence_tag_is_accepted() {
    for tag in [
        "cpp",
        "c++",
        "arduino",
        "ino",
        "c",
        "",
        "C++",
        "cpp title=\"sketch.ino\"",
    ] {
        let extraction =
            extract_code(&answer(tag, SKETCH)).unwrap_or_else(|e| panic!("{tag}: {e:?}"));
        assert_eq!(extraction.code, SKETCH, "{tag}");
        assert_eq!(extraction.blocks, 1);
        assert_eq!(extraction.chosen_block, 0);
        let expected_tag = tag.split_whitespace().next().map(str::to_ascii_lowercase);
        assert_eq!(
            extraction.fence_tag,
            expected_tag.filter(|t| !t.is_empty()),
            "{tag}"
        );
    }
    let tilde = format!("~~~cpp\n{SKETCH}~~~\n");
    assert_eq!(extract_code(&tilde).unwrap().code, SKETCH);
}

#[test]
fn the_block_with_setup_and_loop_is_chosen() {
    let text = format!(
        "First the spec:\n```json\n{{\"a\": 1}}\n```\nA helper:\n```cpp\nint helper() {{ return 1; }}\n```\nThe sketch:\n```arduino\n{SKETCH}```\nInstall with:\n```bash\narduino-cli compile\n```\n"
    );
    let extraction = extract_code(&text).unwrap();
    assert_eq!(extraction.code, SKETCH);
    assert_eq!(extraction.blocks, 4);
    assert_eq!(extraction.chosen_block, 2);
    assert_eq!(extraction.fence_tag.as_deref(), Some("arduino"));
    assert_eq!(extraction.lines, 7);
    assert_eq!(
        extraction.sha256,
        autopilot_trace::sha256_hex(SKETCH.as_bytes())
    );
}

#[test]
fn reasoning_is_stripped_before_extraction() {
    let text = format!(
        "<think>\nMaybe:\n```cpp\nvoid setup() {{}}\nvoid loop() {{ draft(); }}\n```\n</think>\n{}",
        answer("cpp", SKETCH)
    );
    let extraction = extract_code(&text).unwrap();
    assert_eq!(
        extraction.code, SKETCH,
        "the draft inside <think> is ignored"
    );
    assert_eq!(extraction.blocks, 1);
    assert_eq!(strip_reasoning("a<think>b</think>c<think>d"), "ac");
    assert_eq!(
        strip_reasoning("reasoning without an opening tag</think>answer"),
        "answer"
    );
    let only = extract_code("<think>I will write void setup() { } and void loop() { }</think>")
        .unwrap_err();
    assert_eq!(
        only,
        ExtractionFailure::NoCode {
            other_blocks: 0,
            only_reasoning: true
        }
    );
    assert!(only.message().contains("only reasoning"));
}

#[test]
fn competing_sketches_are_rejected_with_a_specific_message() {
    let other = SKETCH.replace("\"a\"", "\"b\"");
    let text = format!("Option A:\n```cpp\n{SKETCH}```\nOption B:\n```cpp\n{other}```\n");
    let failure = extract_code(&text).unwrap_err();
    assert_eq!(
        failure,
        ExtractionFailure::CompetingSketches { blocks: vec![0, 1] }
    );
    assert_eq!(failure.check_id(), CHECK_COMPETING_SKETCHES);
    let message = failure.message();
    assert!(
        message.contains("2 different complete sketches (blocks 1, 2)"),
        "{message}"
    );
    let verdict = failure.verdict(3);
    assert_eq!(
        (verdict.stage, verdict.attempt, verdict.passed),
        (Stage::Extract, 3, false)
    );
    assert_eq!(verdict.check, CHECK_COMPETING_SKETCHES);
    // The same sketch repeated is no competition.
    let repeated = format!("```cpp\n{SKETCH}```\nAgain:\n```cpp\n{SKETCH}```\n");
    assert_eq!(extract_code(&repeated).unwrap().chosen_block, 0);
}

#[test]
fn answers_without_code_are_rejected_with_a_specific_message() {
    let prose = extract_code("I cannot write this sketch without more details.").unwrap_err();
    assert_eq!(prose.check_id(), CHECK_NO_CODE);
    assert!(
        prose.message().contains("no code block"),
        "{}",
        prose.message()
    );
    let json_only = extract_code("```json\n{\"board\": \"uno\"}\n```").unwrap_err();
    assert_eq!(
        json_only,
        ExtractionFailure::NoCode {
            other_blocks: 1,
            only_reasoning: false
        }
    );
    assert!(
        json_only
            .message()
            .contains("1 fenced block(s) but none with C++ code")
    );
    assert!(matches!(
        extract_code(""),
        Err(ExtractionFailure::NoCode { .. })
    ));
}

#[test]
fn bare_code_and_unclosed_fences_are_taken() {
    let bare = extract_code(SKETCH).unwrap();
    assert_eq!(
        (bare.code.as_str(), bare.blocks, bare.fence_tag.as_deref()),
        (SKETCH, 0, None)
    );
    let truncated = extract_code(&format!("```cpp\n{SKETCH}")).unwrap();
    assert_eq!(truncated.code, SKETCH);
    let crlf = extract_code(&answer("cpp", SKETCH).replace('\n', "\r\n")).unwrap();
    assert_eq!(crlf.code, SKETCH);
}

#[test]
fn without_a_complete_sketch_the_most_complete_block_is_taken() {
    let text = "```cpp\nint helper() { return 1; }\n```\n```cpp\nvoid setup() {\n  Serial.begin(9600);\n}\n```\n";
    let extraction = extract_code(text).unwrap();
    assert_eq!(
        extraction.chosen_block, 1,
        "setup() without loop() beats a helper"
    );
}

#[test]
fn commented_out_setup_does_not_count() {
    let text = "```cpp\n// void setup() {}\n/* void loop() {} */\nint x;\n```\n```cpp\nvoid setup() {}\nvoid loop() {}\n```\n";
    assert_eq!(extract_code(text).unwrap().chosen_block, 1);
}

#[test]
fn the_trace_event_mirrors_the_extraction() {
    let extraction = extract_code(&answer("ino", SKETCH)).unwrap();
    let event = extraction.event(2, Some(1));
    assert_eq!(event.attempt, 2);
    assert_eq!(event.identical_to_attempt, Some(1));
    assert_eq!(event.sha256, extraction.sha256);
    assert_eq!(event.fence_tag.as_deref(), Some("ino"));
    assert_eq!((event.blocks, event.chosen_block, event.lines), (1, 0, 7));
}

#[test]
fn fences_need_three_markers_and_matching_close() {
    let blocks = fenced_blocks("````md\n```cpp\ninner\n```\n````\n");
    assert_eq!(blocks.len(), 1, "a longer fence holds a shorter one");
    assert_eq!(blocks[0].tag, "md");
    assert_eq!(blocks[0].content, "```cpp\ninner\n```\n");
    assert!(fenced_blocks("``not a fence``\n").is_empty());
}
