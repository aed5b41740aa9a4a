//! Red-team harness: hostile sketches through the real compiler, simavr and process runner,
//! each asserting the safe outcome (nothing written or read outside the build, bounded
//! resources, no survivors).

use std::path::Path;
use std::time::Duration;

use autopilot_toolchain::firmware::{self, FirmwareRefusal};
use autopilot_toolchain::{CompileOutcome, Compiler, SimulateRequest, Sketch, simulate};
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
    let bytes = std::fs::read(&elf).unwrap();
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
