//! Phone numbers masked in what plugins log: an operator's log collector
//! gets `+1415***0127`, not a lead's full number. (The tenant's own views —
//! job records, `plugin test` transcripts — keep what the plugin wrote.)
//!
//! What counts as a phone number errs on the side of masking: a `+` followed
//! by [`MASK_MIN_DIGITS`]–[`MASK_MAX_DIGITS`] digits (single spaces, `-`,
//! `.` or parentheses between them allowed, as in `+1 (415) 555-0127`), or a
//! bare run of at least [`MASK_MIN_BARE_DIGITS`] digits. Shorter numbers
//! (counts, ids, years) are left alone, and so are digits inside a word
//! (`sim-a1234567890b`).

use std::borrow::Cow;

/// Fewest digits after a `+` that are masked (the shortest E.164 numbers).
pub const MASK_MIN_DIGITS: usize = 8;
/// Most digits of an E.164 number.
pub const MASK_MAX_DIGITS: usize = 15;
/// Fewest digits of a bare run (no `+`) that are masked: a national number.
pub const MASK_MIN_BARE_DIGITS: usize = 10;
/// Most separator characters between two digit groups of a `+` number.
const MAX_SEPARATORS: usize = 2;
/// Digits kept at each end of a masked number.
const KEEP_EACH_END: usize = 4;
/// Fewest digits hidden in the middle.
const HIDE_AT_LEAST: usize = 3;

/// `text` with every phone-looking number masked; borrowed when none is.
pub fn mask_phone_numbers(text: &str) -> Cow<'_, str> {
    if !text.bytes().any(|b| b.is_ascii_digit()) {
        return Cow::Borrowed(text);
    }
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        let starts_number = (bytes[i] == b'+' || bytes[i].is_ascii_digit())
            && (i == 0 || !is_word_byte(bytes[i - 1]) || bytes[i] == b'+');
        if starts_number {
            if let Some((end, digits)) = number_at(bytes, i) {
                out.push_str(&text[copied..i]);
                out.push_str(&masked(bytes[i] == b'+', &digits));
                copied = end;
                i = end;
                continue;
            }
            // Not a phone number: none starts inside its digits either.
            i += 1;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            continue;
        }
        i += 1;
    }
    if copied == 0 {
        return Cow::Borrowed(text);
    }
    out.push_str(&text[copied..]);
    Cow::Owned(out)
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The end and the digits of a phone-looking number starting at `start`.
fn number_at(bytes: &[u8], start: usize) -> Option<(usize, String)> {
    let plus = bytes[start] == b'+';
    let mut i = if plus { start + 1 } else { start };
    let mut digits = String::new();
    let mut end = i;
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii_digit() {
            digits.push(b as char);
            i += 1;
            end = i;
        } else if plus && !digits.is_empty() {
            // Up to two separators between digits (`) `, ` (`, `-`).
            let gap = bytes[i..]
                .iter()
                .take(MAX_SEPARATORS + 1)
                .take_while(|b| matches!(b, b' ' | b'-' | b'.' | b'(' | b')'))
                .count();
            if gap > 0
                && gap <= MAX_SEPARATORS
                && bytes.get(i + gap).is_some_and(u8::is_ascii_digit)
            {
                i += gap;
            } else {
                break;
            }
        } else {
            break;
        }
    }
    let followed_by_word = bytes.get(end).copied().is_some_and(is_word_byte);
    let long_enough = if plus {
        (MASK_MIN_DIGITS..=MASK_MAX_DIGITS).contains(&digits.len())
    } else {
        digits.len() >= MASK_MIN_BARE_DIGITS
    };
    (long_enough && !followed_by_word).then_some((end, digits))
}

/// `+1415***0127`: the ends kept, at least [`HIDE_AT_LEAST`] digits hidden.
fn masked(plus: bool, digits: &str) -> String {
    let keep = KEEP_EACH_END.min(digits.len().saturating_sub(HIDE_AT_LEAST) / 2);
    let (head, rest) = digits.split_at(keep);
    let tail = &rest[rest.len() - keep..];
    format!("{}{head}***{tail}", if plus { "+" } else { "" })
}

#[cfg(test)]
mod tests {
    use super::mask_phone_numbers as mask;

    #[test]
    fn an_e164_number_keeps_its_ends() {
        assert_eq!(mask("+14155550127"), "+1415***0127");
        assert_eq!(mask("+447700900123"), "+4477***0123");
        assert_eq!(mask("+12345678"), "+12***78");
        assert_eq!(mask("+123456789012345"), "+1234***2345");
    }

    #[test]
    fn numbers_inside_text_are_masked_and_the_text_kept() {
        assert_eq!(
            mask("placed sim-42 to +14155550127: busy"),
            "placed sim-42 to +1415***0127: busy"
        );
        assert_eq!(
            mask("to +14155550127,+14155550120."),
            "to +1415***0127,+1415***0120."
        );
        assert_eq!(mask("call +1 (415) 555-0127 now"), "call +1415***0127 now");
        assert_eq!(mask("national 4155550127"), "national 415***127");
    }

    #[test]
    fn short_numbers_and_digits_in_words_are_left_alone() {
        for text in [
            "lead 42: busy, retry in 300s",
            "+1234567 is too short",
            "year 2026, run 123456789",
            "call id sim-a1234567890b",
            "no digits at all",
            "+1234567890123456 has too many digits",
        ] {
            assert_eq!(mask(text), text);
        }
        assert!(matches!(mask("lead 42"), std::borrow::Cow::Borrowed(_)));
    }

    #[test]
    fn multibyte_text_around_numbers_survives() {
        assert_eq!(mask("→ +14155550127 ✓"), "→ +1415***0127 ✓");
    }
}
