//! Expressions: precedence climbing over binary operators, unary and postfix operators,
//! primaries (names, literals, tuples, `Machine(KIND)`, comprehensions).

use super::*;

impl Parser<'_> {
    // ----- expressions -----

    pub(super) fn deeper(&mut self) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_EXPR_DEPTH {
            return self.fail(
                self.here(),
                "expression nested too deeply",
                Some(format!(
                    "expressions may nest at most {MAX_EXPR_DEPTH} levels; split it with intermediate variables"
                )),
            );
        }
        Ok(())
    }

    /// A full expression (ternary level).
    pub(super) fn expr(&mut self) -> PResult<Expr> {
        self.deeper()?;
        let cond = self.binary(1)?;
        let e = if self.is_punct(self.pos, '?') {
            self.pos += 1;
            let then = self.expr()?;
            if !self.is_punct(self.pos, ':') {
                return self.expected(
                    "`:` in conditional expression",
                    Some("write `c ? a : b`".into()),
                );
            }
            self.pos += 1;
            let els = self.expr()?;
            let span = cond.span.to(els.span);
            Expr::new(
                ExprKind::Ternary(Box::new(cond), Box::new(then), Box::new(els)),
                span,
            )
        } else {
            cond
        };
        self.depth -= 1;
        Ok(e)
    }

    pub(super) fn peek_binop(&self) -> Option<(BinOp, usize)> {
        let i = self.pos;
        let two = [
            ('|', '|', BinOp::Or),
            ('&', '&', BinOp::And),
            ('=', '=', BinOp::Eq),
            ('!', '=', BinOp::Ne),
            ('<', '=', BinOp::Le),
            ('>', '=', BinOp::Ge),
        ];
        for (a, b, op) in two {
            if self.is_punct2(i, a, b) {
                return Some((op, 2));
            }
        }
        let op = match self.tk(i) {
            Some(Tk::Punct(c, _)) => match c {
                '<' => BinOp::Lt,
                '>' => BinOp::Gt,
                '+' => BinOp::Add,
                '-' => BinOp::Sub,
                '*' => BinOp::Mul,
                '/' => BinOp::Div,
                '%' => BinOp::Rem,
                _ => return None,
            },
            _ => return None,
        };
        Some((op, 1))
    }

    /// Precedence climbing over left-associative binary operators.
    pub(super) fn binary(&mut self, min_prec: u8) -> PResult<Expr> {
        let saved = self.depth;
        let mut lhs = self.unary()?;
        while let Some((op, n)) = self.peek_binop() {
            if op.precedence() < min_prec {
                break;
            }
            self.pos += n;
            self.deeper()?;
            let rhs = self.binary(op.precedence() + 1)?;
            let span = lhs.span.to(rhs.span);
            lhs = Expr::new(ExprKind::Binary(op, Box::new(lhs), Box::new(rhs)), span);
        }
        self.depth = saved;
        Ok(lhs)
    }

    pub(super) fn unary(&mut self) -> PResult<Expr> {
        let op = match self.peek() {
            Some(Tk::Punct('-', _)) => UnOp::Neg,
            Some(Tk::Punct('!', _)) if !self.is_punct2(self.pos, '!', '=') => UnOp::Not,
            _ => return self.postfix(),
        };
        let start = self.tok_span(self.pos);
        self.pos += 1;
        self.deeper()?;
        let operand = self.unary()?;
        self.depth -= 1;
        let span = start.to(operand.span);
        Ok(Expr::new(ExprKind::Unary(op, Box::new(operand)), span))
    }

    pub(super) fn postfix(&mut self) -> PResult<Expr> {
        let saved = self.depth;
        let mut e = self.primary()?;
        loop {
            if self.is_open(self.pos, '[') {
                self.deeper()?;
                e = self.index(e)?;
            } else if self.is_punct(self.pos, '.') {
                self.deeper()?;
                e = self.dot(e)?;
            } else if self.is_open(self.pos, '(') {
                return self.fail(
                    self.here(),
                    "unexpected `(` after expression",
                    Some(
                        "only a named function can be called: `f(args)` or `x.method(args)`".into(),
                    ),
                );
            } else {
                break;
            }
        }
        self.depth = saved;
        Ok(e)
    }

    /// `.field` or `.method(args)` after `recv`, at `pos` (the `.`).
    pub(super) fn dot(&mut self, recv: Expr) -> PResult<Expr> {
        self.pos += 1;
        let name = match self.peek() {
            Some(Tk::Ident(s)) => Spanned::new(s.clone(), self.tok_span(self.pos)),
            _ => {
                return self.expected(
                    "field or method name after `.`",
                    Some("index tuples with `t[i]`".into()),
                )
            }
        };
        self.pos += 1;
        if self.is_open(self.pos, '(') {
            let close = self.close(self.pos);
            let args = self.args()?;
            let span = recv.span.to(self.tok_span(close));
            Ok(Expr::new(
                ExprKind::Method(Box::new(recv), name, args),
                span,
            ))
        } else {
            let span = recv.span.to(name.span);
            Ok(Expr::new(ExprKind::Field(Box::new(recv), name), span))
        }
    }

    /// `x[...]` at `pos` (the `[`): an index list or a slice.
    pub(super) fn index(&mut self, recv: Expr) -> PResult<Expr> {
        let (close, saved) = self.enter();
        let span = recv.span.to(self.tok_span(close));
        if self.at_end() {
            return self.expected("index expression", Some("write `x[i]` or `x[a:b]`".into()));
        }
        let lo = if self.is_punct(self.pos, ':') {
            None
        } else {
            let bare_star = self.is_punct(self.pos, '*');
            let first = self.element()?;
            if !self.is_punct(self.pos, ':') {
                // An index list.
                let mut elems = vec![first];
                while self.is_punct(self.pos, ',') {
                    self.pos += 1;
                    if self.at_end() {
                        break;
                    }
                    elems.push(self.element()?);
                }
                if !self.at_end() {
                    return self.expected("`,` or `]` in index list", None);
                }
                self.leave(close, saved, "`]`")?;
                return Ok(Expr::new(ExprKind::Index(Box::new(recv), elems), span));
            }
            if bare_star {
                return self.fail(
                    first.span,
                    "`*` is not allowed in a slice bound",
                    Some("a slice is written `x[a:b]` with integer bounds".into()),
                );
            }
            Some(Box::new(first))
        };
        // The slice's `:`.
        self.pos += 1;
        let hi = if self.at_end() {
            None
        } else {
            Some(Box::new(self.expr()?))
        };
        if !self.at_end() {
            return self.expected(
                "`]` after slice",
                Some("slices have no step: write `x[a:b]`".into()),
            );
        }
        self.leave(close, saved, "`]`")?;
        Ok(Expr::new(ExprKind::Slice(Box::new(recv), lo, hi), span))
    }

    /// An element of a tuple, index list or argument list: `*` (wildcard), `*e` (splat) or an
    /// expression.
    pub(super) fn element(&mut self) -> PResult<Expr> {
        if self.is_punct(self.pos, '*') {
            let star = self.tok_span(self.pos);
            if self.pos + 1 >= self.end
                || self.is_punct(self.pos + 1, ',')
                || self.is_punct(self.pos + 1, ':')
            {
                self.pos += 1;
                return Ok(Expr::new(ExprKind::Wildcard, star));
            }
            self.pos += 1;
            self.deeper()?;
            let inner = self.expr()?;
            self.depth -= 1;
            let span = star.to(inner.span);
            return Ok(Expr::new(ExprKind::Splat(Box::new(inner)), span));
        }
        self.expr()
    }

    /// The contents of the group at `pos`: comma-separated elements. Returns the elements and
    /// whether a trailing comma was written; the position ends after the group.
    pub(super) fn elements(&mut self, what: &str) -> PResult<(Vec<Expr>, bool)> {
        let (close, saved) = self.enter();
        let mut elems = Vec::new();
        let mut trailing = false;
        while !self.at_end() {
            elems.push(self.element()?);
            trailing = false;
            if self.at_end() {
                break;
            }
            if !self.is_punct(self.pos, ',') {
                return self.expected(&format!("`,` or `)` in {what}"), None);
            }
            self.pos += 1;
            trailing = true;
        }
        self.leave(close, saved, "`)`")?;
        Ok((elems, trailing))
    }

    pub(super) fn args(&mut self) -> PResult<Vec<Expr>> {
        Ok(self.elements("argument list")?.0)
    }

    pub(super) fn primary(&mut self) -> PResult<Expr> {
        match self.peek() {
            Some(Tk::Int(v)) => {
                let e = Expr::new(ExprKind::Int(*v), self.tok_span(self.pos));
                self.pos += 1;
                Ok(e)
            }
            Some(Tk::Open('(')) => self.paren(),
            Some(Tk::Ident(_)) => self.ident_expr(),
            _ => self.primary_error(),
        }
    }

    /// `(e)` (just `e`, its span widened to the parentheses) or a tuple.
    pub(super) fn paren(&mut self) -> PResult<Expr> {
        let i = self.pos;
        let full = self.range(i, self.close(i));
        let (mut elems, trailing) = self.elements("tuple")?;
        if elems.len() == 1 && !trailing {
            let mut e = elems.remove(0);
            e.span = full;
            Ok(e)
        } else {
            Ok(Expr::new(ExprKind::Tuple(elems), full))
        }
    }

    /// An expression starting with an identifier: a keyword form, a call or a variable.
    pub(super) fn ident_expr(&mut self) -> PResult<Expr> {
        let span = self.tok_span(self.pos);
        let Some(name) = self.ident_at(self.pos) else {
            return self.primary_error();
        };
        match name {
            "True" | "False" => {
                self.pos += 1;
                Ok(Expr::new(ExprKind::Bool(name == "True"), span))
            }
            "Machine" => self.machine(),
            "tuple" => self.tuple_comp(),
            _ if is_keyword(name) => self.primary_error(),
            _ => {
                self.pos += 1;
                if self.is_open(self.pos, '(') {
                    let close = self.close(self.pos);
                    let args = self.args()?;
                    let id = Spanned::new(name.to_string(), span);
                    Ok(Expr::new(
                        ExprKind::Call(id, args),
                        span.to(self.tok_span(close)),
                    ))
                } else {
                    Ok(Expr::new(ExprKind::Var(name.to_string()), span))
                }
            }
        }
    }

    /// Reports a token that cannot start an expression.
    #[cold]
    #[inline(never)]
    pub(super) fn primary_error(&mut self) -> PResult<Expr> {
        let span = self.here();
        match self.peek() {
            Some(Tk::BadLit { .. }) => self.bad_literal(),
            Some(Tk::Str(_)) => self.fail(
                span,
                "string literal outside `print`",
                Some(
                    "strings are only allowed as the format argument of `print(\"...\", ...)`"
                        .into(),
                ),
            ),
            Some(Tk::Ident(kw)) => self.fail(
                span,
                format!("expected expression, found keyword `{kw}`"),
                None,
            ),
            Some(Tk::Punct('*', _)) => self.expected(
                "expression",
                Some("`*t` splats a tuple only inside `( )`, `[ ]` or call arguments".into()),
            ),
            _ => self.expected("expression", None),
        }
    }

    /// `Machine(KIND)`.
    pub(super) fn machine(&mut self) -> PResult<Expr> {
        let start = self.pos;
        self.pos += 1;
        if !self.is_open(self.pos, '(') {
            return self.expected("`(` after `Machine`", Some("write `Machine(GPU)`".into()));
        }
        let (close, saved) = self.enter();
        if !matches!(self.peek(), Some(Tk::Ident(_))) || self.pos + 1 != close {
            return self.expected(
                "processor kind in `Machine(...)`",
                Some(format!("write e.g. `Machine(GPU)` (kinds: {PROC_LIST})")),
            );
        }
        let kind = self.proc_kind()?;
        self.leave(close, saved, "`)`")?;
        Ok(Expr::new(ExprKind::Machine(kind), self.range(start, close)))
    }

    /// `tuple(EXPR for NAME in TUPLE)`.
    pub(super) fn tuple_comp(&mut self) -> PResult<Expr> {
        let start = self.pos;
        self.pos += 1;
        let help = || Some("write `tuple(EXPR for NAME in TUPLE)`".to_string());
        if !self.is_open(self.pos, '(') {
            return self.expected("`(` after `tuple`", help());
        }
        let (close, saved) = self.enter();
        let body = self.expr()?;
        if !self.is_ident(self.pos, "for") {
            return self.expected("`for` in tuple comprehension", help());
        }
        self.pos += 1;
        let var = self.name("loop variable name")?;
        if !self.is_ident(self.pos, "in") {
            return self.expected("`in` in tuple comprehension", help());
        }
        self.pos += 1;
        let iter = self.expr()?;
        self.leave(close, saved, "`)`")?;
        Ok(Expr::new(
            ExprKind::TupleComp {
                body: Box::new(body),
                var,
                iter: Box::new(iter),
            },
            self.range(start, close),
        ))
    }
}
