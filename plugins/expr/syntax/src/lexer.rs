//! Splits an expression into tokens, each with the byte range it came from, for the parser in
//! [`super`]. It knows both CEL's literal syntax and expr-lang's backtick strings.

use super::ParseError;

/// One token and where it was written (`start..end`, byte offsets into the source).
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    /// What was read.
    pub kind: TokenKind,
    /// Byte offset of the token's first character.
    pub start: usize,
    /// Byte offset just past the token's last character.
    pub end: usize,
}

/// The kinds of token an expression is made of.
#[derive(Debug, Clone, PartialEq)]
pub enum TokenKind {
    /// A name: a variable, field, function, or a word operator (`and`, `contains`, …) — the parser
    /// decides which from where it stands.
    Ident(String),
    /// A number literal, as written (`42`, `0x1F`, `7u`, `1.5e3`).
    Number(String),
    /// A string or bytes literal, as CEL source text (`"a"`, `r'\d'`, `b"x"`); an expr-lang
    /// backtick string is already converted to an equivalent double-quoted CEL string.
    Str(String),
    /// An operator or punctuation mark (`==`, `&&`, `(`, `.`, …).
    Punct(&'static str),
    /// The end of the source.
    End,
}

impl TokenKind {
    /// How the token reads in an error message.
    pub fn describe(&self) -> String {
        match self {
            TokenKind::Ident(text) | TokenKind::Number(text) | TokenKind::Str(text) => format!("`{text}`"),
            TokenKind::Punct(p) => format!("`{p}`"),
            TokenKind::End => "the end of the expression".to_string(),
        }
    }
}

/// Operators and punctuation, longest first so that `<=` wins over `<`.
const PUNCTUATION: [&str; 23] = [
    "<=", ">=", "==", "!=", "&&", "||", "<", ">", "!", "-", "+", "*", "/", "%", "(", ")", "[", "]", "{", "}", ".", ",",
    ":",
];

/// Splits `source` into tokens; the last one is always [`TokenKind::End`].
pub fn tokenize(source: &str) -> Result<Vec<Token>, ParseError> {
    let mut lexer = Lexer { source, pos: 0 };
    let mut tokens = Vec::new();
    loop {
        let token = lexer.next_token()?;
        let done = token.kind == TokenKind::End;
        tokens.push(token);
        if done {
            return Ok(tokens);
        }
    }
}

struct Lexer<'a> {
    source: &'a str,
    pos: usize,
}

impl<'a> Lexer<'a> {
    fn rest(&self) -> &'a str {
        &self.source[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn peek_at(&self, n: usize) -> Option<char> {
        self.rest().chars().nth(n)
    }

    fn error(&self, at: usize, message: impl Into<String>) -> ParseError {
        ParseError::at(self.source, at, message)
    }

    fn skip_blanks(&mut self) {
        loop {
            let rest = self.rest();
            let trimmed = rest.trim_start();
            self.pos += rest.len() - trimmed.len();
            if trimmed.starts_with("//") {
                self.pos += trimmed.find('\n').unwrap_or(trimmed.len());
            } else {
                return;
            }
        }
    }

    fn next_token(&mut self) -> Result<Token, ParseError> {
        self.skip_blanks();
        let start = self.pos;
        let Some(c) = self.peek() else {
            return Ok(Token { kind: TokenKind::End, start, end: start });
        };
        let kind = if let Some(prefix_len) = self.string_prefix_len() {
            self.string(prefix_len)?
        } else if c == '`' {
            self.backtick_string()?
        } else if c.is_ascii_digit() || (c == '.' && self.peek_at(1).is_some_and(|d| d.is_ascii_digit())) {
            self.number()
        } else if c.is_ascii_alphabetic() || c == '_' {
            let len =
                self.rest().find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_')).unwrap_or(self.rest().len());
            self.pos += len;
            TokenKind::Ident(self.source[start..self.pos].to_string())
        } else if c == '?' {
            self.pos += 1;
            TokenKind::Punct("?")
        } else if let Some(p) = PUNCTUATION.iter().copied().find(|p| self.rest().starts_with(p)) {
            self.pos += p.len();
            TokenKind::Punct(p)
        } else {
            let hint = match c {
                '=' => ": use `==` to compare",
                '&' => ": use `&&` or `and`",
                '|' => ": use `||` or `or`",
                _ => "",
            };
            return Err(self.error(start, format!("unexpected character `{c}`{hint}")));
        };
        Ok(Token { kind, start, end: self.pos })
    }

    /// The length of a string literal's prefix (`r`, `b`, `rb`, `BR`, …) when a quote follows it
    /// (0 for a plain quote); `None` when no string starts here.
    fn string_prefix_len(&self) -> Option<usize> {
        let bytes = self.rest().as_bytes();
        let is_quote = |i: usize| matches!(bytes.get(i), Some(b'"' | b'\''));
        let is_prefix = |i: usize| matches!(bytes.get(i), Some(b'r' | b'R' | b'b' | b'B'));
        if is_quote(0) {
            Some(0)
        } else if is_prefix(0) && is_quote(1) {
            Some(1)
        } else if is_prefix(0) && is_prefix(1) && !bytes[0].eq_ignore_ascii_case(&bytes[1]) && is_quote(2) {
            Some(2)
        } else {
            None
        }
    }

    fn string(&mut self, prefix_len: usize) -> Result<TokenKind, ParseError> {
        let start = self.pos;
        let raw = self.source[start..start + prefix_len].contains(['r', 'R']);
        self.pos += prefix_len;
        let quote_char = self.peek().unwrap_or('"');
        let triple: String = std::iter::repeat_n(quote_char, 3).collect();
        let delimiter = if self.rest().starts_with(&triple) { triple } else { quote_char.to_string() };
        self.pos += delimiter.len();
        loop {
            let rest = self.rest();
            if rest.starts_with(&delimiter) {
                self.pos += delimiter.len();
                return Ok(TokenKind::Str(self.source[start..self.pos].to_string()));
            }
            let mut chars = rest.chars();
            match chars.next() {
                None => return Err(self.error(start, "string literal is not closed")),
                Some('\n') if delimiter.len() == 1 => {
                    return Err(
                        self.error(start, "string literal is not closed on its line (use `\"\"\"` for several lines)")
                    );
                }
                Some('\\') if !raw => {
                    self.pos += 1 + chars.next().map_or(0, char::len_utf8);
                }
                Some(ch) => self.pos += ch.len_utf8(),
            }
        }
    }

    /// expr-lang's raw string: everything up to the next backtick, converted to a CEL string.
    fn backtick_string(&mut self) -> Result<TokenKind, ParseError> {
        let start = self.pos;
        let body_start = start + 1;
        let Some(len) = self.source[body_start..].find('`') else {
            return Err(self.error(start, "string literal is not closed"));
        };
        self.pos = body_start + len + 1;
        let mut cel = String::with_capacity(len + 2);
        cel.push('"');
        for ch in self.source[body_start..body_start + len].chars() {
            match ch {
                '\\' => cel.push_str("\\\\"),
                '"' => cel.push_str("\\\""),
                '\n' => cel.push_str("\\n"),
                '\r' => cel.push_str("\\r"),
                '\t' => cel.push_str("\\t"),
                other => cel.push(other),
            }
        }
        cel.push('"');
        Ok(TokenKind::Str(cel))
    }

    fn number(&mut self) -> TokenKind {
        let start = self.pos;
        let digits = |s: &str| s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let rest = self.rest();
        if (rest.starts_with("0x") || rest.starts_with("0X")) && rest[2..].starts_with(|c: char| c.is_ascii_hexdigit())
        {
            self.pos += 2 + rest[2..].find(|c: char| !c.is_ascii_hexdigit()).unwrap_or(rest.len() - 2);
        } else {
            self.pos += digits(rest);
            let mut float = false;
            if self.peek() == Some('.') && self.peek_at(1).is_some_and(|c| c.is_ascii_digit()) {
                self.pos += 1 + digits(&self.source[self.pos + 1..]);
                float = true;
            }
            let rest = self.rest();
            if rest.starts_with(['e', 'E']) {
                let sign = usize::from(rest[1..].starts_with(['+', '-']));
                let exponent = digits(&rest[1 + sign..]);
                if exponent > 0 {
                    self.pos += 1 + sign + exponent;
                    float = true;
                }
            }
            if float {
                return TokenKind::Number(self.source[start..self.pos].to_string());
            }
        }
        if self.peek().is_some_and(|c| c == 'u' || c == 'U') {
            self.pos += 1;
        }
        TokenKind::Number(self.source[start..self.pos].to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(source: &str) -> Vec<TokenKind> {
        tokenize(source).map(|tokens| tokens.into_iter().map(|t| t.kind).collect()).unwrap_or_default()
    }

    #[test]
    fn splits_operators_names_and_literals() {
        assert_eq!(
            kinds("a.b <= 1.5e3 && 'x'"),
            vec![
                TokenKind::Ident("a".into()),
                TokenKind::Punct("."),
                TokenKind::Ident("b".into()),
                TokenKind::Punct("<="),
                TokenKind::Number("1.5e3".into()),
                TokenKind::Punct("&&"),
                TokenKind::Str("'x'".into()),
                TokenKind::End,
            ]
        );
    }

    #[test]
    fn keeps_cel_string_forms_verbatim() {
        assert_eq!(kinds(r#"r"\d+""#)[0], TokenKind::Str(r#"r"\d+""#.into()));
        assert_eq!(kinds(r#"b'ab'"#)[0], TokenKind::Str("b'ab'".into()));
        assert_eq!(kinds(r#""a \" and b""#)[0], TokenKind::Str(r#""a \" and b""#.into()));
        assert_eq!(kinds("'''x\ny'''")[0], TokenKind::Str("'''x\ny'''".into()));
    }

    #[test]
    fn converts_backtick_strings_to_cel() {
        assert_eq!(kinds(r#"`a"\d`"#)[0], TokenKind::Str(r#""a\"\\d""#.into()));
    }

    #[test]
    fn reads_numbers_in_every_form() {
        assert_eq!(
            kinds("0x1F 7u .5 3")[..4],
            [
                TokenKind::Number("0x1F".into()),
                TokenKind::Number("7u".into()),
                TokenKind::Number(".5".into()),
                TokenKind::Number("3".into()),
            ]
        );
    }

    #[test]
    fn skips_comments() {
        assert_eq!(kinds("a // note\n")[..], [TokenKind::Ident("a".into()), TokenKind::End]);
    }

    #[test]
    fn reports_unclosed_strings_and_stray_characters_with_their_column() {
        let error = tokenize("a == 'x").err().map(|e| e.to_string()).unwrap_or_default();
        assert_eq!(error, "column 6: string literal is not closed");
        let error = tokenize("a = 1").err().map(|e| e.to_string()).unwrap_or_default();
        assert_eq!(error, "column 3: unexpected character `=`: use `==` to compare");
    }
}
