//! Translates TestMesh's expr-lang spellings into CEL. A tokenizer and a precedence-climbing parser
//! build a syntax tree ([`Expr`]) that prints as fully parenthesised CEL: `a contains b` becomes
//! `a.contains(b)`, `and`/`or`/`not` become `&&`/`||`/`!`, `a not in b` becomes `!(a in b)`,
//! `len(x)` becomes `size(x)` and `nil` becomes `null`. String literals are single tokens, so their
//! contents are never rewritten, and plain CEL keeps its meaning.

mod ast;
mod lexer;

pub use ast::{BinaryOp, Expr, ExprKind, Span, UnaryOp};
use lexer::{Token, TokenKind};
use std::fmt;

/// How deeply expressions may nest: deeper input is refused rather than risking the guest's stack.
const MAX_DEPTH: usize = 64;

/// An expression that does not parse: what is wrong, and the column (1-based, in characters) where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based column, counted in characters.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

impl ParseError {
    /// An error at byte offset `at` of `source`.
    fn at(source: &str, at: usize, message: impl Into<String>) -> Self {
        let column = source.get(..at).map_or(at, |prefix| prefix.chars().count()) + 1;
        ParseError { column, message: message.into() }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "column {}: {}", self.column, self.message)
    }
}

impl std::error::Error for ParseError {}

/// Parses an expression written in CEL or with expr-lang's spellings. Print the result with
/// [`Expr::to_cel`] to get CEL.
pub fn parse(source: &str) -> Result<Expr, ParseError> {
    let tokens = lexer::tokenize(source)?;
    let mut parser = Parser { source, tokens, pos: 0, depth: 0 };
    let expr = parser.expression()?;
    let next = parser.peek();
    if next.kind != TokenKind::End {
        return Err(parser.error_here(format!("expected an operator but found {}", next.kind.describe())));
    }
    Ok(expr)
}

/// Translates an expression to CEL text (see [`parse`]).
pub fn to_cel(source: &str) -> Result<String, ParseError> {
    parse(source).map(|expr| expr.to_cel())
}

struct Parser<'s> {
    source: &'s str,
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        self.peek_at(0)
    }

    fn peek_at(&self, n: usize) -> &Token {
        let last = self.tokens.len().saturating_sub(1);
        &self.tokens[(self.pos + n).min(last)]
    }

    fn advance(&mut self) -> Token {
        let token = self.peek().clone();
        if token.kind != TokenKind::End {
            self.pos += 1;
        }
        token
    }

    fn is_punct(&self, punct: &str) -> bool {
        matches!(&self.peek().kind, TokenKind::Punct(p) if *p == punct)
    }

    fn is_word(&self, n: usize, word: &str) -> bool {
        matches!(&self.peek_at(n).kind, TokenKind::Ident(name) if name == word)
    }

    fn eat(&mut self, punct: &str) -> bool {
        let found = self.is_punct(punct);
        if found {
            self.pos += 1;
        }
        found
    }

    fn expect(&mut self, punct: &str) -> Result<Token, ParseError> {
        if self.is_punct(punct) {
            return Ok(self.advance());
        }
        Err(self.error_here(format!("expected `{punct}` but found {}", self.peek().kind.describe())))
    }

    fn error_here(&self, message: impl Into<String>) -> ParseError {
        ParseError::at(self.source, self.peek().start, message)
    }

    fn nested<T>(&mut self, parse: impl FnOnce(&mut Self) -> Result<T, ParseError>) -> Result<T, ParseError> {
        if self.depth >= MAX_DEPTH {
            return Err(self.error_here(format!("expression nests more than {MAX_DEPTH} levels deep")));
        }
        self.depth += 1;
        let result = parse(self);
        self.depth -= 1;
        result
    }

    /// `or_expr ( '?' or_expr ':' expression )?`
    fn expression(&mut self) -> Result<Expr, ParseError> {
        self.nested(|p| {
            let condition = p.binary(BinaryOp::Or.strength())?;
            if !p.eat("?") {
                return Ok(condition);
            }
            let then = p.binary(BinaryOp::Or.strength())?;
            p.expect(":")?;
            let otherwise = p.expression()?;
            let span = Span { start: condition.span.start, end: otherwise.span.end };
            let kind = ExprKind::Conditional {
                condition: Box::new(condition),
                then: Box::new(then),
                otherwise: Box::new(otherwise),
            };
            Ok(Expr { kind, span })
        })
    }

    /// The binary operator at the current position and how many tokens it spans (`not in` is two).
    fn binary_operator(&self) -> Option<(BinaryOp, usize)> {
        let op = match &self.peek().kind {
            TokenKind::Punct(p) => match *p {
                "||" => BinaryOp::Or,
                "&&" => BinaryOp::And,
                "==" => BinaryOp::Eq,
                "!=" => BinaryOp::Ne,
                "<" => BinaryOp::Lt,
                "<=" => BinaryOp::Le,
                ">" => BinaryOp::Gt,
                ">=" => BinaryOp::Ge,
                "+" => BinaryOp::Add,
                "-" => BinaryOp::Sub,
                "*" => BinaryOp::Mul,
                "/" => BinaryOp::Div,
                "%" => BinaryOp::Rem,
                _ => return None,
            },
            TokenKind::Ident(word) => match word.as_str() {
                "or" => BinaryOp::Or,
                "and" => BinaryOp::And,
                "in" => BinaryOp::In,
                "not" if self.is_word(1, "in") => return Some((BinaryOp::NotIn, 2)),
                "contains" => BinaryOp::Contains,
                "startsWith" => BinaryOp::StartsWith,
                "endsWith" => BinaryOp::EndsWith,
                "matches" => BinaryOp::Matches,
                _ => return None,
            },
            _ => return None,
        };
        Some((op, 1))
    }

    /// Precedence climbing over the left-associative binary operators binding at least `min`
    /// (see [`BinaryOp::strength`]).
    fn binary(&mut self, min: u8) -> Result<Expr, ParseError> {
        let mut left = self.unary()?;
        while let Some((op, tokens)) = self.binary_operator() {
            let strength = op.strength();
            if strength < min {
                break;
            }
            self.pos += tokens;
            let right = self.nested(|p| p.binary(strength + 1))?;
            let span = Span { start: left.span.start, end: right.span.end };
            left = Expr { kind: ExprKind::Binary { op, left: Box::new(left), right: Box::new(right) }, span };
        }
        Ok(left)
    }

    /// `('!' | 'not' | '-') unary | postfix`
    fn unary(&mut self) -> Result<Expr, ParseError> {
        let start = self.peek().start;
        let op = if self.is_punct("!") || self.is_word(0, "not") {
            UnaryOp::Not
        } else if self.is_punct("-") {
            UnaryOp::Negate
        } else {
            return self.postfix();
        };
        self.pos += 1;
        let operand = self.nested(Self::unary)?;
        let span = Span { start, end: operand.span.end };
        Ok(Expr { kind: ExprKind::Unary { op, operand: Box::new(operand) }, span })
    }

    /// A primary followed by any number of `.field`, `.method(args)` and `[index]`.
    fn postfix(&mut self) -> Result<Expr, ParseError> {
        let mut expr = self.primary()?;
        loop {
            let start = expr.span.start;
            if self.eat(".") {
                let optional = self.eat("?");
                let name = self.identifier("a field or method name after `.`")?;
                if !optional && self.is_punct("(") {
                    let (args, end) = self.arguments(")")?;
                    let kind = ExprKind::Call { target: Some(Box::new(expr)), function: name.0, args };
                    expr = Expr { kind, span: Span { start, end } };
                } else {
                    let kind = ExprKind::Member { target: Box::new(expr), field: name.0, optional };
                    expr = Expr { kind, span: Span { start, end: name.1 } };
                }
            } else if self.eat("[") {
                let optional = self.eat("?");
                let index = self.nested(Self::expression)?;
                let end = self.expect("]")?.end;
                let kind = ExprKind::Index { target: Box::new(expr), index: Box::new(index), optional };
                expr = Expr { kind, span: Span { start, end } };
            } else {
                return Ok(expr);
            }
        }
    }

    /// An identifier, with the byte offset where it ends.
    fn identifier(&mut self, what: &str) -> Result<(String, usize), ParseError> {
        match &self.peek().kind {
            TokenKind::Ident(name) => {
                let name = name.clone();
                Ok((name, self.advance().end))
            }
            other => Err(self.error_here(format!("expected {what} but found {}", other.describe()))),
        }
    }

    /// A comma-separated list of expressions after the opening bracket (already current), up to
    /// `close`; a trailing comma is allowed. Returns them and the offset just past `close`.
    fn arguments(&mut self, close: &str) -> Result<(Vec<Expr>, usize), ParseError> {
        self.advance();
        let mut items = Vec::new();
        while !self.is_punct(close) {
            items.push(self.nested(Self::expression)?);
            if !self.eat(",") {
                break;
            }
        }
        let end = self.expect(close)?.end;
        Ok((items, end))
    }

    fn primary(&mut self) -> Result<Expr, ParseError> {
        let token = self.peek().clone();
        let span = Span { start: token.start, end: token.end };
        let literal = |text: &str| Ok(Expr { kind: ExprKind::Literal(text.to_string()), span });
        match &token.kind {
            TokenKind::Number(text) | TokenKind::Str(text) => {
                self.advance();
                literal(text)
            }
            TokenKind::Ident(name) => {
                self.advance();
                match name.as_str() {
                    "true" | "false" | "null" => literal(name),
                    "nil" => literal("null"),
                    _ if self.is_punct("(") => {
                        let (args, end) = self.arguments(")")?;
                        let kind = ExprKind::Call { target: None, function: name.clone(), args };
                        Ok(Expr { kind, span: Span { start: span.start, end } })
                    }
                    _ => Ok(Expr { kind: ExprKind::Ident(name.clone()), span }),
                }
            }
            TokenKind::Punct("(") => {
                self.advance();
                let mut inner = self.nested(Self::expression)?;
                let end = self.expect(")")?.end;
                inner.span = Span { start: span.start, end };
                Ok(inner)
            }
            TokenKind::Punct("[") => {
                let (items, end) = self.arguments("]")?;
                Ok(Expr { kind: ExprKind::List(items), span: Span { start: span.start, end } })
            }
            TokenKind::Punct("{") => self.map(span.start),
            other => Err(self.error_here(format!("expected a value but found {}", other.describe()))),
        }
    }

    /// `{ key: value, … }`, the `{` current.
    fn map(&mut self, start: usize) -> Result<Expr, ParseError> {
        self.advance();
        let mut entries = Vec::new();
        while !self.is_punct("}") {
            let key = self.nested(Self::expression)?;
            self.expect(":")?;
            let value = self.nested(Self::expression)?;
            entries.push((key, value));
            if !self.eat(",") {
                break;
            }
        }
        let end = self.expect("}")?.end;
        Ok(Expr { kind: ExprKind::Map(entries), span: Span { start, end } })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn children_are_the_direct_sub_expressions_in_source_order() {
        let Ok(expr) = parse("f(a, b.c) ? x[0] : {k: v}") else { panic!("parses") };
        let shown: Vec<String> = expr.children().map(|c| c.to_cel()).collect();
        assert_eq!(shown, ["f(a, b.c)", "x[0]", "{k: v}"]);
        let Ok(call) = parse("f(a, b.c)") else { panic!("parses") };
        assert_eq!(call.children().map(|c| c.to_cel()).collect::<Vec<_>>(), ["a", "b.c"]);
    }

    fn cel(source: &str) -> String {
        to_cel(source).unwrap_or_else(|e| format!("error: {e}"))
    }

    #[test]
    fn word_operators_become_cel_methods() {
        assert_eq!(cel(r#"body.name contains "li""#), r#"body.name.contains("li")"#);
        assert_eq!(cel(r#"url startsWith "https://""#), r#"url.startsWith("https://")"#);
        assert_eq!(cel(r#"body.email endsWith "@example.com""#), r#"body.email.endsWith("@example.com")"#);
        assert_eq!(cel(r#"body.name matches "^a""#), r#"body.name.matches("^a")"#);
    }

    #[test]
    fn word_operators_take_a_parenthesised_receiver() {
        assert_eq!(cel(r#"a + b contains "x""#), r#"(a + b).contains("x")"#);
    }

    #[test]
    fn logical_words_become_symbols() {
        assert_eq!(cel("a and b or c"), "((a && b) || c)");
        assert_eq!(cel("a and b and c or d or e"), "((a && b && c) || d || e)");
        assert_eq!(cel("a - b + c * d / e"), "(a - b + (c * d / e))");
        assert_eq!(cel("not a"), "(!a)");
        assert_eq!(cel("not a == b"), "((!a) == b)");
        assert_eq!(cel("a not in [1, 2]"), "(!(a in [1, 2]))");
    }

    #[test]
    fn len_and_nil_become_size_and_null() {
        assert_eq!(cel("len(body.items) > 0"), "(size(body.items) > 0)");
        assert_eq!(cel("x != nil"), "(x != null)");
        assert_eq!(cel("a.len()"), "a.len()");
        assert_eq!(cel("a.nil"), "a.nil");
    }

    #[test]
    fn string_literals_are_never_rewritten() {
        assert_eq!(cel(r#"body.text == "cats and dogs or not nil""#), r#"(body.text == "cats and dogs or not nil")"#);
        assert_eq!(cel(r#"s == 'a contains b' and t"#), r#"((s == 'a contains b') && t)"#);
        assert_eq!(cel(r#"r"len(x)" == raw"#), r#"(r"len(x)" == raw)"#);
    }

    #[test]
    fn precedence_follows_cel() {
        assert_eq!(cel("a || b && c == d + e * f"), "(a || (b && (c == (d + (e * f)))))");
        assert_eq!(cel("a - (b - c)"), "(a - (b - c))");
        assert_eq!(cel("a < b == c"), "(a < b == c)");
        assert_eq!(cel("-a.b[0]"), "(-a.b[0])");
        assert_eq!(cel("a ? b : c ? d : e"), "(a ? b : (c ? d : e))");
        assert_eq!(cel("(a || b) && c"), "((a || b) && c)");
    }

    #[test]
    fn plain_cel_keeps_its_meaning() {
        assert_eq!(cel(r#"headers["content-type"].contains("json")"#), r#"headers["content-type"].contains("json")"#);
        assert_eq!(cel("body.items.exists(i, i.id == 7)"), "body.items.exists(i, (i.id == 7))");
        assert_eq!(cel("has(body.name) && size(body.items) >= 1u"), "(has(body.name) && (size(body.items) >= 1u))");
        assert_eq!(cel(r#"{"a": [1, 2.5,], 'b': null}.a[1] == 2.5"#), r#"({"a": [1, 2.5], 'b': null}.a[1] == 2.5)"#);
        assert_eq!(cel("m.?x.orValue(1) == m[?'k'].orValue(1)"), "(m.?x.orValue(1) == m[?'k'].orValue(1))");
        assert_eq!(cel("!!a"), "(!(!a))");
    }

    #[test]
    fn spans_cover_the_source_of_each_operand() {
        let source = "len(body.items) >  (a + 1)";
        let expr = parse(source).map_err(|e| e.to_string());
        let Ok(Expr { kind: ExprKind::Binary { left, right, .. }, .. }) = expr else {
            panic!("not a binary expression: {expr:?}");
        };
        assert_eq!(left.source_text(source), "len(body.items)");
        assert_eq!(right.source_text(source), "(a + 1)");
    }

    #[test]
    fn parse_errors_name_the_column() {
        let err = |s: &str| parse(s).err().map(|e| e.to_string()).unwrap_or_default();
        assert_eq!(err("status == "), "column 11: expected a value but found the end of the expression");
        assert_eq!(err("status 200"), "column 8: expected an operator but found `200`");
        assert_eq!(err("f(a, b"), "column 7: expected `)` but found the end of the expression");
        assert_eq!(err("a. == 1"), "column 4: expected a field or method name after `.` but found `==`");
        assert_eq!(err(r#""é" == )"#), "column 8: expected a value but found `)`");
    }

    #[test]
    fn deep_nesting_is_refused() {
        let source = format!("{}1{}", "(".repeat(200), ")".repeat(200));
        assert!(parse(&source).is_err_and(|e| e.message.contains("levels deep")));
    }
}
