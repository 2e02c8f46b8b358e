//! Text for the PDF's built-in fonts and the few formats every report shares.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// `s` in WinAnsiEncoding, the encoding of the 14 built-in PDF fonts: ASCII and Latin-1 are
/// kept, arrows and dashes get their nearest spelling, anything else (and control characters)
/// becomes `?`. Reports name ids and hashes, which are ASCII in practice.
pub(crate) fn win_ansi(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '→' => out.extend_from_slice(b"->"),
            '—' => out.push(0x97),
            '–' => out.push(0x96),
            '·' => out.push(0xB7),
            ' '..='~' => out.push(c as u8),
            '\u{a0}'..='\u{ff}' => out.push(u32::from(c) as u8),
            _ => out.push(b'?'),
        }
    }
    out
}

/// Greedy word wrap at `width` characters; words longer than a line are split.
pub(crate) fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let mut word: Vec<char> = word.chars().collect();
        while word.len() > width {
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            let rest = word.split_off(width);
            lines.push(word.into_iter().collect());
            word = rest;
        }
        let needed = if line.is_empty() { 0 } else { 1 } + word.len();
        if line.chars().count() + needed > width && !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.extend(word);
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// `s` cut to `width` characters, with `…` spelled `...` when cut.
pub(crate) fn clip(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(width.saturating_sub(3)).collect();
        out.push_str("...");
        out
    }
}

/// An RFC 3339 timestamp (UTC) for microseconds since the Unix epoch; the number itself when
/// it is out of range.
pub(crate) fn micros_rfc3339(micros: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| format!("{micros} µs since the Unix epoch"))
}

/// `t` as RFC 3339 in UTC.
pub(crate) fn rfc3339(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(&Rfc3339)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_keeps_every_character_and_respects_the_width() {
        let text = "the quick brown fox jumps over a lazy dog AAAAAAAAAAAAAAAAAAAAAAAAA";
        let lines = wrap(text, 10);
        assert!(lines.iter().all(|l| l.chars().count() <= 10), "{lines:?}");
        assert_eq!(lines.concat().replace(' ', ""), text.replace(' ', ""));
    }

    #[test]
    fn non_latin_text_becomes_question_marks_and_arrows_stay_readable() {
        assert_eq!(win_ansi("a→b 日"), b"a->b ?".to_vec());
        assert_eq!(win_ansi("é"), vec![0xE9]);
    }
}
