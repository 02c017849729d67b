//! The label selector grammar: lexer and parser for the `labelSelector` query string.
//!
//! They follow the structure of Kubernetes' hand-written parser (k8s.io/apimachinery
//! `labels.Parse`) closely, because its quirks are observable: `in`/`notin` are identifiers
//! wherever a value is expected, `x in (a,,)` means {"a", ""}, and `!x=a` fails only after
//! the requirement `!x`.

use super::labels::{Operator, Requirement, invalid_key};
use crate::error::SelectorError;

/// Parses a selector into its requirements, in source order; the error is Kubernetes' text
/// without the "unable to parse requirement: " prefix.
pub(super) fn parse(input: &str) -> Result<Vec<Requirement>, String> {
    Parser::new(input).parse()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    End,
    ClosedPar,
    Comma,
    DoesNotExist,
    DoubleEquals,
    Equals,
    GreaterThan,
    Identifier,
    In,
    LessThan,
    NotEquals,
    NotIn,
    OpenPar,
}

#[derive(Debug, Clone, Copy)]
struct Item<'a> {
    token: Token,
    literal: &'a str,
}

/// Whether a token is read where a key and operator or where values are expected; in the
/// latter, the keywords `in` and `notin` are plain identifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Context {
    KeyAndOperator,
    Values,
}

const BINARY_OPERATORS: &str = "in, notin, =, ==, !=, gt, lt";

fn is_whitespace(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_special(b: u8) -> bool {
    matches!(b, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

fn keyword(literal: &str) -> Token {
    match literal {
        ")" => Token::ClosedPar,
        "," => Token::Comma,
        "!" => Token::DoesNotExist,
        "==" => Token::DoubleEquals,
        "=" => Token::Equals,
        ">" => Token::GreaterThan,
        "in" => Token::In,
        "<" => Token::LessThan,
        "!=" => Token::NotEquals,
        "notin" => Token::NotIn,
        "(" => Token::OpenPar,
        _ => Token::Identifier,
    }
}

/// Splits the input into tokens, always ending with `Token::End`. Symbols are matched
/// longest-first (`!=` before `!`); anything else up to a symbol or whitespace is one word.
fn lex(input: &str) -> Vec<Item<'_>> {
    let bytes = input.as_bytes();
    let mut items = Vec::new();
    let mut pos = 0;
    loop {
        while pos < bytes.len() && is_whitespace(bytes[pos]) {
            pos += 1;
        }
        if pos == bytes.len() {
            items.push(Item {
                token: Token::End,
                literal: "",
            });
            return items;
        }
        let len = if is_special(bytes[pos]) {
            let two = input.get(pos..pos + 2);
            if matches!(two, Some("==" | "!=")) {
                2
            } else {
                1
            }
        } else {
            let rest = &bytes[pos..];
            rest.iter()
                .position(|&b| is_special(b) || is_whitespace(b))
                .unwrap_or(rest.len())
        };
        let literal = &input[pos..pos + len];
        items.push(Item {
            token: keyword(literal),
            literal,
        });
        pos += len;
    }
}

struct Parser<'a> {
    items: Vec<Item<'a>>,
    position: usize,
}

type ParseResult<T> = Result<T, String>;

impl<'a> Parser<'a> {
    fn new(input: &'a str) -> Self {
        Self {
            items: lex(input),
            position: 0,
        }
    }

    fn lookahead(&self, context: Context) -> (Token, &'a str) {
        // `lex` always ends with `End`, and nothing is consumed after it.
        let item = self.items[self.position.min(self.items.len() - 1)];
        (Self::in_context(item.token, context), item.literal)
    }

    fn consume(&mut self, context: Context) -> (Token, &'a str) {
        let item = self.lookahead(context);
        self.position += 1;
        item
    }

    fn in_context(token: Token, context: Context) -> Token {
        match (token, context) {
            (Token::In | Token::NotIn, Context::Values) => Token::Identifier,
            _ => token,
        }
    }

    fn parse(mut self) -> ParseResult<Vec<Requirement>> {
        let mut requirements = Vec::new();
        loop {
            let (token, literal) = self.lookahead(Context::Values);
            match token {
                Token::Identifier | Token::DoesNotExist => {
                    requirements.push(self.parse_requirement()?);
                    let (token, literal) = self.consume(Context::Values);
                    match token {
                        Token::End => return Ok(requirements),
                        Token::Comma => {
                            let (next, literal) = self.lookahead(Context::Values);
                            if !matches!(next, Token::Identifier | Token::DoesNotExist) {
                                return Err(format!(
                                    "found '{literal}', expected: identifier after ','"
                                ));
                            }
                        }
                        _ => {
                            return Err(format!(
                                "found '{literal}', expected: ',' or 'end of string'"
                            ));
                        }
                    }
                }
                Token::End => return Ok(requirements),
                _ => {
                    return Err(format!(
                        "found '{literal}', expected: !, identifier, or 'end of string'"
                    ));
                }
            }
        }
    }

    fn parse_requirement(&mut self) -> ParseResult<Requirement> {
        let (key, inferred) = self.parse_key_and_infer_operator()?;
        if let Some(operator) = inferred {
            return requirement(key, operator, Vec::new());
        }
        let operator = self.parse_operator()?;
        let values = match operator {
            Operator::In | Operator::NotIn => self.parse_values()?,
            _ => self.parse_exact_value()?,
        };
        requirement(key, operator, values)
    }

    /// Reads `key` or `!key`; the operator is known already when the key stands alone.
    fn parse_key_and_infer_operator(&mut self) -> ParseResult<(&'a str, Option<Operator>)> {
        let (mut token, mut literal) = self.consume(Context::Values);
        let mut operator = None;
        if token == Token::DoesNotExist {
            operator = Some(Operator::DoesNotExist);
            (token, literal) = self.consume(Context::Values);
        }
        if token != Token::Identifier {
            return Err(format!("found '{literal}', expected: identifier"));
        }
        // The parser validates the key without a field path, hence Kubernetes' "<nil>".
        if let Some(err) = invalid_key(literal, "<nil>") {
            return Err(err);
        }
        let (next, _) = self.lookahead(Context::Values);
        if operator.is_none() && matches!(next, Token::End | Token::Comma) {
            operator = Some(Operator::Exists);
        }
        Ok((literal, operator))
    }

    fn parse_operator(&mut self) -> ParseResult<Operator> {
        let (token, literal) = self.consume(Context::KeyAndOperator);
        Ok(match token {
            Token::In => Operator::In,
            Token::Equals => Operator::Equals,
            Token::DoubleEquals => Operator::DoubleEquals,
            Token::GreaterThan => Operator::GreaterThan,
            Token::LessThan => Operator::LessThan,
            Token::NotIn => Operator::NotIn,
            Token::NotEquals => Operator::NotEquals,
            _ => return Err(format!("found '{literal}', expected: {BINARY_OPERATORS}")),
        })
    }

    /// `( v1, v2 )`; empty entries (`()`, `(a,)`, `(,a)`) stand for the empty value.
    fn parse_values(&mut self) -> ParseResult<Vec<&'a str>> {
        let (token, literal) = self.consume(Context::Values);
        if token != Token::OpenPar {
            return Err(format!("found '{literal}' expected: '('"));
        }
        let (token, literal) = self.lookahead(Context::Values);
        match token {
            Token::Identifier | Token::Comma => {
                let values = self.parse_identifiers_list()?;
                self.consume(Context::Values); // the ')' the list stopped at
                Ok(values)
            }
            Token::ClosedPar => {
                self.consume(Context::Values);
                Ok(vec![""])
            }
            _ => Err(format!(
                "found '{literal}', expected: ',', ')' or identifier"
            )),
        }
    }

    fn parse_identifiers_list(&mut self) -> ParseResult<Vec<&'a str>> {
        let mut values = Vec::new();
        loop {
            let (token, literal) = self.consume(Context::Values);
            match token {
                Token::Identifier => {
                    values.push(literal);
                    let (next, literal) = self.lookahead(Context::Values);
                    match next {
                        Token::Comma => continue,
                        Token::ClosedPar => return Ok(values),
                        _ => return Err(format!("found '{literal}', expected: ',' or ')'")),
                    }
                }
                Token::Comma => {
                    // A comma next to '(' or ')' or another comma delimits an empty value.
                    let (next, _) = self.lookahead(Context::Values);
                    if values.is_empty() || matches!(next, Token::Comma | Token::ClosedPar) {
                        values.push("");
                    }
                    if next == Token::ClosedPar {
                        return Ok(values);
                    }
                }
                _ => return Err(format!("found '{literal}', expected: ',', or identifier")),
            }
        }
    }

    /// The operand of `=`, `==`, `!=`, `>`, `<`: one word, or nothing (the empty value).
    fn parse_exact_value(&mut self) -> ParseResult<Vec<&'a str>> {
        let (token, _) = self.lookahead(Context::Values);
        if matches!(token, Token::End | Token::Comma) {
            return Ok(vec![""]);
        }
        match self.consume(Context::Values) {
            (Token::Identifier, literal) => Ok(vec![literal]),
            (_, literal) => Err(format!("found '{literal}', expected: identifier")),
        }
    }
}

fn requirement(key: &str, operator: Operator, values: Vec<&str>) -> ParseResult<Requirement> {
    Requirement::new(key, operator, values).map_err(|err| match err {
        SelectorError::Parse(msg) | SelectorError::UnsupportedField(msg) => msg,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexer() {
        let cases: &[(&str, &[Token])] = &[
            (
                "key in ( value )",
                &[
                    Token::Identifier,
                    Token::In,
                    Token::OpenPar,
                    Token::Identifier,
                    Token::ClosedPar,
                ],
            ),
            ("!key", &[Token::DoesNotExist, Token::Identifier]),
            (
                "== != (), = notin",
                &[
                    Token::DoubleEquals,
                    Token::NotEquals,
                    Token::OpenPar,
                    Token::ClosedPar,
                    Token::Comma,
                    Token::Equals,
                    Token::NotIn,
                ],
            ),
            (
                "key>2",
                &[Token::Identifier, Token::GreaterThan, Token::Identifier],
            ),
            (
                "key<1",
                &[Token::Identifier, Token::LessThan, Token::Identifier],
            ),
            ("~ ||", &[Token::Identifier, Token::Identifier]),
            ("!!=", &[Token::DoesNotExist, Token::NotEquals]),
        ];
        for (input, want) in cases {
            let tokens: Vec<Token> = lex(input).iter().map(|i| i.token).collect();
            assert_eq!(&tokens[..tokens.len() - 1], *want, "{input}");
            assert_eq!(tokens.last(), Some(&Token::End));
        }
    }
}
