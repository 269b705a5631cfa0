//! A minimal TensorBoard event-file writer for scalars (no protobuf dependency): TFRecord
//! framing with masked CRC-32C around hand-encoded `Event` protos.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Appends scalar summaries to `events.out.tfevents.<secs>.<host>` in a directory.
#[derive(Debug)]
pub struct EventWriter {
    path: PathBuf,
    out: BufWriter<File>,
}

impl EventWriter {
    /// Creates the directory and a new event file, starting with the `brain.Event:2` version
    /// record that TensorBoard expects.
    pub fn create(dir: &Path, wall_time: f64) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let host = std::env::var("HOSTNAME")
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".into());
        let path = dir.join(format!("events.out.tfevents.{}.{host}", wall_time as u64));
        let mut writer = Self {
            out: BufWriter::new(File::create(&path)?),
            path,
        };
        writer.write_record(&encode_event(wall_time, 0, EventBody::FileVersion("brain.Event:2")))?;
        writer.out.flush()?;
        Ok(writer)
    }

    /// The event file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes one scalar (`tag` such as `train/loss`) at `step` and flushes.
    pub fn add_scalar(&mut self, tag: &str, value: f32, step: i64, wall_time: f64) -> std::io::Result<()> {
        self.write_record(&encode_event(wall_time, step, EventBody::Scalar { tag, value }))?;
        self.out.flush()
    }

    fn write_record(&mut self, data: &[u8]) -> std::io::Result<()> {
        let len = (data.len() as u64).to_le_bytes();
        self.out.write_all(&len)?;
        self.out.write_all(&masked_crc(&len).to_le_bytes())?;
        self.out.write_all(data)?;
        self.out.write_all(&masked_crc(data).to_le_bytes())
    }
}

enum EventBody<'a> {
    FileVersion(&'a str),
    Scalar { tag: &'a str, value: f32 },
}

/// TFRecord's masked CRC-32C.
fn masked_crc(data: &[u8]) -> u32 {
    let crc = crc32c::crc32c(data);
    crc.rotate_right(15).wrapping_add(0xa282_ead8)
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_bytes(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    put_varint(out, u64::from(field << 3 | 2));
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// `Event { double wall_time = 1; int64 step = 2; oneof { string file_version = 3;
/// Summary summary = 5; } }`, `Summary { repeated Value value = 1; }`,
/// `Value { string tag = 1; float simple_value = 2; }`.
fn encode_event(wall_time: f64, step: i64, body: EventBody<'_>) -> Vec<u8> {
    let mut event = Vec::new();
    event.push(1 << 3 | 1);
    event.extend_from_slice(&wall_time.to_le_bytes());
    if step != 0 {
        put_varint(&mut event, 2 << 3);
        put_varint(&mut event, step as u64);
    }
    match body {
        EventBody::FileVersion(version) => put_bytes(&mut event, 3, version.as_bytes()),
        EventBody::Scalar { tag, value } => {
            let mut summary_value = Vec::new();
            put_bytes(&mut summary_value, 1, tag.as_bytes());
            summary_value.push(2 << 3 | 5);
            summary_value.extend_from_slice(&value.to_le_bytes());
            let mut summary = Vec::new();
            put_bytes(&mut summary, 1, &summary_value);
            put_bytes(&mut event, 5, &summary);
        }
    }
    event
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_and_masking_match_known_values() {
        // CRC-32C check value (RFC 3720 B.4): "123456789" → 0xE3069283.
        assert_eq!(crc32c::crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(
            masked_crc(b"123456789"),
            0xE306_9283u32.rotate_right(15).wrapping_add(0xa282_ead8)
        );
    }
}

#[cfg(test)]
mod golden {
    use super::*;

    /// The same records as `scripts/fixtures/tensorboard_fixture.py` writes with TensorBoard's
    /// own `RecordWriter` and protobuf classes: the bytes must be identical.
    #[test]
    fn matches_tensorboards_own_writer_byte_for_byte() {
        let golden = std::fs::read(provence_test_support::fixture("tensorboard/events.golden")).unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let mut writer = EventWriter::create(tmp.path(), 1_700_000_000.5).unwrap();
        writer
            .add_scalar("train/loss", std::f32::consts::LN_2, 1, 1_700_000_001.25)
            .unwrap();
        writer
            .add_scalar("train/learning_rate", 5e-5, 2, 1_700_000_002.0)
            .unwrap();
        writer.add_scalar("eval/loss", 0.25, 300, 1_700_000_003.75).unwrap();
        let ours = std::fs::read(writer.path()).unwrap();
        assert!(
            writer
                .path()
                .file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("events.out.tfevents.1700000000.")
        );
        assert_eq!(ours, golden);
    }
}
