//! Vets a firmware ELF before the simulator loads it: reads the section table (pure, no
//! process) and refuses firmware that simavr would take orders from.
//!
//! simavr acts on a `.mmcu` section in the firmware: its tags name a VCD file that simavr opens
//! **on the host** for writing (`AVR_MMCU_TAG_VCD_FILENAME`), with signal names that are
//! attacker text, and it `strcpy`s tag strings into fixed buffers. LLM-written firmware is
//! hostile input, so a `.mmcu` section is refused outright (nothing legitimate in an Arduino
//! sketch needs one). simavr finds the section by its name in the section-header string
//! table (`elf_strptr(e_shstrndx, sh_name)`), so that is exactly what is read here; anything
//! this reader cannot follow is refused too rather than handed to simavr.

/// The section simavr takes configuration (and file names) from.
pub const MMCU_SECTION: &str = ".mmcu";
/// The stable check id the refusal is reported under (trace and repair prompt).
pub const CHECK_MMCU: &str = "firmware.mmcu_section";

/// Why firmware was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FirmwareRefusal {
    #[error(
        "the firmware has a `.mmcu` section: simavr would act on it (open host files for VCD traces); \
         remove `AVR_MCU`, `avr_mcu_section.h` and any `section(\".mmcu\")` from the sketch"
    )]
    MmcuSection,
    #[error("the firmware is not an ELF file this check can read: {0}")]
    Unreadable(String),
}

impl FirmwareRefusal {
    /// The stable check id (`firmware.mmcu_section`, `firmware.unreadable`).
    pub fn check_id(&self) -> &'static str {
        match self {
            FirmwareRefusal::MmcuSection => CHECK_MMCU,
            FirmwareRefusal::Unreadable(_) => "firmware.unreadable",
        }
    }
}

/// The names of every section of a 32- or 64-bit ELF file, in table order.
pub fn section_names(elf: &[u8]) -> Result<Vec<String>, FirmwareRefusal> {
    let bad = |what: &str| FirmwareRefusal::Unreadable(what.to_owned());
    if elf.len() < 16 || &elf[..4] != b"\x7fELF" {
        return Err(bad("no ELF magic"));
    }
    let wide = match elf[4] {
        1 => false,
        2 => true,
        _ => return Err(bad("unknown ELF class")),
    };
    let little = match elf[5] {
        1 => true,
        2 => false,
        _ => return Err(bad("unknown ELF byte order")),
    };
    let reader = Reader { elf, little };
    let (shoff, shentsize, shnum, shstrndx) = if wide {
        (
            reader.u64(0x28)?,
            reader.u16(0x3A)?,
            reader.u16(0x3C)?,
            reader.u16(0x3E)?,
        )
    } else {
        (
            u64::from(reader.u32(0x20)?),
            reader.u16(0x2E)?,
            reader.u16(0x30)?,
            reader.u16(0x32)?,
        )
    };
    if shoff == 0 {
        // No section table: simavr has nothing to find either.
        return Ok(Vec::new());
    }
    // Extended numbering (count or string-table index kept in section 0) is legal ELF that
    // no AVR toolchain writes; refusing it keeps this reader small and libelf's view equal.
    if shnum == 0 || shstrndx == 0 || shstrndx >= 0xff00 {
        return Err(bad("extended section numbering"));
    }
    if shstrndx >= shnum {
        return Err(bad("section-name table index out of range"));
    }
    let shoff = usize::try_from(shoff).map_err(|_| bad("section table offset too large"))?;
    let header = |index: u16| -> Result<(u32, u64, u64), FirmwareRefusal> {
        let at = shoff
            .checked_add(usize::from(index) * usize::from(shentsize))
            .ok_or_else(|| bad("section table offset too large"))?;
        if wide {
            Ok((
                reader.u32(at)?,
                reader.u64(at + 0x18)?,
                reader.u64(at + 0x20)?,
            ))
        } else {
            Ok((
                reader.u32(at)?,
                u64::from(reader.u32(at + 0x10)?),
                u64::from(reader.u32(at + 0x14)?),
            ))
        }
    };
    let min_entry = if wide { 0x40 } else { 0x28 };
    if usize::from(shentsize) < min_entry {
        return Err(bad("section header entries too small"));
    }
    let (_, str_offset, str_size) = header(shstrndx)?;
    let strings = usize::try_from(str_offset)
        .ok()
        .zip(usize::try_from(str_size).ok())
        .and_then(|(start, size)| elf.get(start..start.checked_add(size)?))
        .ok_or_else(|| bad("section-name table outside the file"))?;
    (0..shnum)
        .map(|index| {
            let (name, _, _) = header(index)?;
            let start = usize::try_from(name).map_err(|_| bad("section name offset"))?;
            let tail = strings
                .get(start..)
                .ok_or_else(|| bad("section name outside the name table"))?;
            let end = tail
                .iter()
                .position(|&b| b == 0)
                .ok_or_else(|| bad("section name not terminated"))?;
            Ok(String::from_utf8_lossy(&tail[..end]).into_owned())
        })
        .collect()
}

/// `Ok` when simavr may load this firmware; the refusal otherwise.
pub fn vet(elf: &[u8]) -> Result<(), FirmwareRefusal> {
    if section_names(elf)?.iter().any(|name| name == MMCU_SECTION) {
        return Err(FirmwareRefusal::MmcuSection);
    }
    Ok(())
}

struct Reader<'a> {
    elf: &'a [u8],
    little: bool,
}

impl Reader<'_> {
    fn bytes<const N: usize>(&self, at: usize) -> Result<[u8; N], FirmwareRefusal> {
        at.checked_add(N)
            .and_then(|end| self.elf.get(at..end))
            .and_then(|slice| <[u8; N]>::try_from(slice).ok())
            .ok_or_else(|| FirmwareRefusal::Unreadable("truncated ELF headers".to_owned()))
    }

    fn u16(&self, at: usize) -> Result<u16, FirmwareRefusal> {
        let b = self.bytes::<2>(at)?;
        Ok(if self.little {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        })
    }

    fn u32(&self, at: usize) -> Result<u32, FirmwareRefusal> {
        let b = self.bytes::<4>(at)?;
        Ok(if self.little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    }

    fn u64(&self, at: usize) -> Result<u64, FirmwareRefusal> {
        let b = self.bytes::<8>(at)?;
        Ok(if self.little {
            u64::from_le_bytes(b)
        } else {
            u64::from_be_bytes(b)
        })
    }
}
