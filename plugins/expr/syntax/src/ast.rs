//! The syntax tree the translator builds, and how a tree prints as fully parenthesised CEL.

use std::fmt::{self, Write};

/// A byte range of the source an expression was parsed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// Byte offset of the first character.
    pub start: usize,
    /// Byte offset just past the last character.
    pub end: usize,
}

/// One node of an expression, with the source range it was written in.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    /// What the node is.
    pub kind: ExprKind,
    /// Where it was written (parentheses around it included).
    pub span: Span,
}

/// The forms an expression can take.
#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    /// A literal as CEL source text: a number, string, bytes, `true`, `false` or `null` (expr-lang's
    /// `nil` is stored as `null`).
    Literal(String),
    /// A variable (or, inside a macro, an iteration variable).
    Ident(String),
    /// `target.field`, or `target.?field` when `optional`.
    Member {
        /// The value whose field is read.
        target: Box<Expr>,
        /// The field's name.
        field: String,
        /// CEL's optional selection `.?`.
        optional: bool,
    },
    /// `target[index]`, or `target[?index]` when `optional`.
    Index {
        /// The list or map indexed.
        target: Box<Expr>,
        /// The index or key.
        index: Box<Expr>,
        /// CEL's optional index `[?…]`.
        optional: bool,
    },
    /// A function call, `f(args)`, or a method call, `target.f(args)`.
    Call {
        /// The receiver of a method call.
        target: Option<Box<Expr>>,
        /// The function's name as written (expr-lang's `len` prints as `size`).
        function: String,
        /// The arguments.
        args: Vec<Expr>,
    },
    /// `[a, b, …]`.
    List(Vec<Expr>),
    /// `{k: v, …}`.
    Map(Vec<(Expr, Expr)>),
    /// `!x`, `not x` or `-x`.
    Unary {
        /// Which operator.
        op: UnaryOp,
        /// Its operand.
        operand: Box<Expr>,
    },
    /// `left op right`.
    Binary {
        /// Which operator.
        op: BinaryOp,
        /// The left operand.
        left: Box<Expr>,
        /// The right operand.
        right: Box<Expr>,
    },
    /// `condition ? then : otherwise`.
    Conditional {
        /// The condition.
        condition: Box<Expr>,
        /// The value when the condition holds.
        then: Box<Expr>,
        /// The value otherwise.
        otherwise: Box<Expr>,
    },
}

/// Prefix operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    /// `!` or `not`.
    Not,
    /// `-`.
    Negate,
}

/// Infix operators, CEL's and expr-lang's word operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    /// `||` or `or`.
    Or,
    /// `&&` or `and`.
    And,
    /// `==`.
    Eq,
    /// `!=`.
    Ne,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
    /// `in`.
    In,
    /// expr-lang's `not in`.
    NotIn,
    /// expr-lang's `contains`.
    Contains,
    /// expr-lang's `startsWith`.
    StartsWith,
    /// expr-lang's `endsWith`.
    EndsWith,
    /// expr-lang's `matches`.
    Matches,
    /// `+`.
    Add,
    /// `-`.
    Sub,
    /// `*`.
    Mul,
    /// `/`.
    Div,
    /// `%`.
    Rem,
}

impl BinaryOp {
    /// Whether the operator compares its operands (a relation or a word operator): a failure
    /// message then shows both operands' values.
    pub fn is_comparison(self) -> bool {
        !matches!(
            self,
            BinaryOp::Or
                | BinaryOp::And
                | BinaryOp::Add
                | BinaryOp::Sub
                | BinaryOp::Mul
                | BinaryOp::Div
                | BinaryOp::Rem
        )
    }

    /// How tightly the operator binds: operators of equal strength associate to the left.
    pub fn strength(self) -> u8 {
        match self {
            BinaryOp::Or => 1,
            BinaryOp::And => 2,
            BinaryOp::Add | BinaryOp::Sub => 4,
            BinaryOp::Mul | BinaryOp::Div | BinaryOp::Rem => 5,
            _ => 3,
        }
    }

    /// The CEL method a word operator becomes (`a contains b` → `a.contains(b)`).
    fn method(self) -> Option<&'static str> {
        match self {
            BinaryOp::Contains => Some("contains"),
            BinaryOp::StartsWith => Some("startsWith"),
            BinaryOp::EndsWith => Some("endsWith"),
            BinaryOp::Matches => Some("matches"),
            _ => None,
        }
    }

    /// The CEL symbol of an operator that stays infix.
    fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Or => "||",
            BinaryOp::And => "&&",
            BinaryOp::Eq => "==",
            BinaryOp::Ne => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::In | BinaryOp::NotIn => "in",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Rem => "%",
            BinaryOp::Contains | BinaryOp::StartsWith | BinaryOp::EndsWith | BinaryOp::Matches => "",
        }
    }
}

impl Expr {
    /// The direct sub-expressions of this one, in source order: what a walk over the tree visits
    /// next (the `expr` plugin collects operand paths with it, the host the names an expression
    /// mentions).
    pub fn children(&self) -> impl Iterator<Item = &Expr> {
        let (first, rest): (Option<&Expr>, Vec<&Expr>) = match &self.kind {
            ExprKind::Literal(_) | ExprKind::Ident(_) => (None, Vec::new()),
            ExprKind::Member { target, .. } => (Some(target), Vec::new()),
            ExprKind::Index { target, index, .. } => (Some(target), vec![index]),
            ExprKind::Call { target, args, .. } => (target.as_deref(), args.iter().collect()),
            ExprKind::List(items) => (None, items.iter().collect()),
            ExprKind::Map(entries) => (None, entries.iter().flat_map(|(k, v)| [k, v]).collect()),
            ExprKind::Unary { operand, .. } => (Some(operand), Vec::new()),
            ExprKind::Binary { left, right, .. } => (Some(left), vec![right]),
            ExprKind::Conditional { condition, then, otherwise } => (Some(condition), vec![then, otherwise]),
        };
        first.into_iter().chain(rest)
    }

    /// The CEL text of this expression: operators fully parenthesised, expr-lang spellings
    /// replaced by their CEL equivalents.
    pub fn to_cel(&self) -> String {
        self.to_string()
    }

    /// The source text this node was parsed from.
    pub fn source_text<'s>(&self, source: &'s str) -> &'s str {
        source.get(self.span.start..self.span.end).unwrap_or(source).trim()
    }

    /// Whether the expression is made of literals only (its value needs no explaining).
    pub fn is_constant(&self) -> bool {
        match &self.kind {
            ExprKind::Literal(_) => true,
            ExprKind::List(items) => items.iter().all(Expr::is_constant),
            ExprKind::Map(entries) => entries.iter().all(|(k, v)| k.is_constant() && v.is_constant()),
            ExprKind::Unary { operand, .. } => operand.is_constant(),
            _ => false,
        }
    }
}

fn write_list(f: &mut fmt::Formatter<'_>, items: &[Expr]) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{item}")?;
    }
    Ok(())
}

/// Writes the left operand of `parent`. When it is an operator of the same binding strength it
/// goes without parentheses: the operators are left-associative, so `a && b && c` prints as
/// `(a && b && c)` rather than nesting a parenthesis per link (CEL's parser limits nesting, and
/// long `&&` chains are common in assertions).
fn write_chain_link(f: &mut fmt::Formatter<'_>, left: &Expr, parent: BinaryOp) -> fmt::Result {
    match &left.kind {
        ExprKind::Binary { op, left: inner, right }
            if op.method().is_none() && *op != BinaryOp::NotIn && op.strength() == parent.strength() =>
        {
            write_chain_link(f, inner, *op)?;
            write!(f, " {} {right}", op.symbol())
        }
        _ => write!(f, "{left}"),
    }
}

impl fmt::Display for Expr {
    /// Prints CEL: see [`Expr::to_cel`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ExprKind::Literal(text) | ExprKind::Ident(text) => f.write_str(text),
            ExprKind::Member { target, field, optional } => {
                write!(f, "{target}.{}{field}", if *optional { "?" } else { "" })
            }
            ExprKind::Index { target, index, optional } => {
                write!(f, "{target}[{}{index}]", if *optional { "?" } else { "" })
            }
            ExprKind::Call { target, function, args } => {
                if let Some(target) = target {
                    write!(f, "{target}.{function}(")?;
                } else if function == "len" {
                    f.write_str("size(")?;
                } else {
                    write!(f, "{function}(")?;
                }
                write_list(f, args)?;
                f.write_char(')')
            }
            ExprKind::List(items) => {
                f.write_char('[')?;
                write_list(f, items)?;
                f.write_char(']')
            }
            ExprKind::Map(entries) => {
                f.write_char('{')?;
                for (i, (key, value)) in entries.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{key}: {value}")?;
                }
                f.write_char('}')
            }
            ExprKind::Unary { op: UnaryOp::Not, operand } => write!(f, "(!{operand})"),
            ExprKind::Unary { op: UnaryOp::Negate, operand } => write!(f, "(-{operand})"),
            ExprKind::Binary { op: BinaryOp::NotIn, left, right } => write!(f, "(!({left} in {right}))"),
            ExprKind::Binary { op, left, right } => match op.method() {
                Some(method) => write!(f, "{left}.{method}({right})"),
                None => {
                    f.write_char('(')?;
                    write_chain_link(f, left, *op)?;
                    write!(f, " {} {right})", op.symbol())
                }
            },
            ExprKind::Conditional { condition, then, otherwise } => write!(f, "({condition} ? {then} : {otherwise})"),
        }
    }
}
