//! Statements: the top-level statements, `def` and function bodies.

use super::*;

impl Parser<'_> {
    // ----- program and statements -----

    pub(super) fn program(&mut self) -> Program {
        let mut stmts = Vec::new();
        while !self.at_end() && !self.full() {
            let start = self.pos;
            self.broken = false;
            self.depth = 0;
            match self.statement() {
                Ok(Some(s)) if !self.broken => stmts.push(s),
                Ok(_) => {}
                Err(Fail) => {
                    self.end = self.toks.len();
                    self.recover(start, false);
                }
            }
            if self.pos <= start {
                self.pos = self.skip_tree(start);
            }
        }
        Program { stmts }
    }

    /// Expects the `;` ending the statement that started at `start`; returns its span.
    pub(super) fn end_stmt(&mut self, start: usize) -> PResult<Span> {
        if self.is_punct(self.pos, ';') {
            let span = self.range(start, self.pos);
            self.pos += 1;
            return Ok(span);
        }
        let last = self.pos.saturating_sub(1).max(start);
        let span = self.after(last);
        if self.at_end() || self.starts_line(self.pos) {
            // Probably just a forgotten `;` at the end of the line: keep the statement.
            self.err_keep(
                Diagnostic::error(span, "expected `;` after statement")
                    .with_help("every statement ends with `;`"),
            );
            return Ok(self.range(start, last));
        }
        let found = self.found();
        self.fail(
            span,
            "expected `;` after statement",
            Some(format!("found {found}; every statement ends with `;`")),
        )
    }

    pub(super) fn statement(&mut self) -> PResult<Option<Stmt>> {
        let start = self.pos;
        let Some(tok) = self.peek() else {
            return Ok(None);
        };
        let name = match tok {
            Tk::Punct(';', _) => {
                self.pos += 1;
                return Ok(None);
            }
            Tk::Ident(name) => name.as_str(),
            Tk::Punct('#', _) if self.in_macro => {
                return self.fail(
                    self.here(),
                    "unexpected `#`",
                    Some("`#` comments are only allowed in `.mapper` files; use `//` inside `mapper!`".into()),
                );
            }
            _ => return self.expected("statement", Some(statement_help())),
        };
        match name {
            "Task" => {
                self.pos += 1;
                let tasks = self.task_names()?;
                let kinds = self.kind_list()?;
                let span = self.end_stmt(start)?;
                Ok(Some(Stmt::Task { tasks, kinds, span }))
            }
            "Region" => {
                self.pos += 1;
                let task = self.task_sel()?;
                let region = self.region_sel()?;
                let proc = self.proc_sel()?;
                let mems = self.mem_list()?;
                let span = self.end_stmt(start)?;
                Ok(Some(Stmt::Region {
                    task,
                    region,
                    proc,
                    mems,
                    span,
                }))
            }
            "Layout" => {
                self.pos += 1;
                let task = self.task_sel()?;
                let region = self.region_sel()?;
                let target = self.layout_target()?;
                let constraints = self.constraints()?;
                let span = self.end_stmt(start)?;
                Ok(Some(Stmt::Layout {
                    task,
                    region,
                    target,
                    constraints,
                    span,
                }))
            }
            "InstanceLimit" => {
                self.pos += 1;
                let task = self.task_sel()?;
                let proc = match self.peek() {
                    Some(Tk::Punct('*', _)) | Some(Tk::Ident(_)) => Some(self.proc_sel()?),
                    _ => None,
                };
                let limit = match self.peek() {
                    Some(Tk::Int(v)) => Spanned::new(*v, self.tok_span(self.pos)),
                    Some(Tk::BadLit { .. }) => return self.bad_literal(),
                    _ => {
                        return self.expected(
                            "instance limit (a non-negative integer)",
                            Some("write e.g. `InstanceLimit TASK GPU 4;`".into()),
                        )
                    }
                };
                self.pos += 1;
                let span = self.end_stmt(start)?;
                Ok(Some(Stmt::InstanceLimit {
                    task,
                    proc,
                    limit,
                    span,
                }))
            }
            "CollectMemory" => {
                self.pos += 1;
                let task = self.task_sel()?;
                let region = self.region_sel()?;
                let span = self.end_stmt(start)?;
                Ok(Some(Stmt::CollectMemory { task, region, span }))
            }
            "IndexTaskMap" | "SingleTaskMap" => {
                let index = name == "IndexTaskMap";
                self.pos += 1;
                // `IndexTaskMap GPU f;`: a processor kind instead of task names.
                let kind = match (self.peek(), self.tk(self.pos + 1)) {
                    (Some(Tk::Ident(k)), Some(Tk::Ident(_))) => ProcKind::parse(k),
                    _ => None,
                };
                let tasks = match kind {
                    Some(k) => {
                        self.pos += 1;
                        TaskNames::Kind(Spanned::new(k, self.tok_span(self.pos - 1)))
                    }
                    None => self.task_names()?,
                };
                let func = self
                    .name_with_help("function name", Some(format!("write `{name} TASKS FUNC;`")))?;
                let span = self.end_stmt(start)?;
                Ok(Some(if index {
                    Stmt::IndexTaskMap { tasks, func, span }
                } else {
                    Stmt::SingleTaskMap { tasks, func, span }
                }))
            }
            "ControlReplicate" => {
                self.pos += 1;
                let tasks = self.task_names()?;
                let span = self.end_stmt(start)?;
                Ok(Some(Stmt::ControlReplicate { tasks, span }))
            }
            "def" => Ok(Some(Stmt::Def(self.def()?))),
            "return" | "print" => self.fail(
                self.here(),
                format!("`{name}` outside of a function"),
                Some(format!(
                    "`{name}` is only allowed inside `def NAME(...) {{ ... }}`"
                )),
            ),
            _ if self.is_assign_eq(self.pos + 1) => {
                if is_keyword(name) {
                    return self.fail(
                        self.here(),
                        format!("cannot assign to keyword `{name}`"),
                        Some("choose another name".into()),
                    );
                }
                let name = Spanned::new(name.to_string(), self.tok_span(self.pos));
                self.pos += 2;
                let value = self.expr()?;
                let span = self.end_stmt(start)?;
                Ok(Some(Stmt::Assign { name, value, span }))
            }
            _ => {
                if let Some(kw) = closest(name, STATEMENT_KEYWORDS.iter().copied()) {
                    return self.fail(
                        self.here(),
                        format!("unknown statement `{name}`"),
                        Some(format!("did you mean `{kw}`?")),
                    );
                }
                let next_is_word = matches!(
                    self.tk(self.pos + 1),
                    Some(Tk::Ident(_)) | Some(Tk::Punct('*', _)) | Some(Tk::Int(_))
                );
                if next_is_word || is_keyword(name) {
                    return self.fail(
                        self.here(),
                        format!("unknown statement `{name}`"),
                        Some(statement_help()),
                    );
                }
                self.pos += 1;
                self.expected(
                    &format!("`=` after `{name}`"),
                    Some("a top-level assignment is written `NAME = EXPR;`".into()),
                )
            }
        }
    }

    pub(super) fn bad_literal<T>(&mut self) -> PResult<T> {
        if let Some(Tk::BadLit { message, help, .. }) = self.peek() {
            let (m, h) = (message.clone(), help.clone());
            return self.fail(self.here(), m, Some(h));
        }
        self.expected("literal", None)
    }

    /// A name (identifier that is not a keyword).
    pub(super) fn name_with_help(&mut self, what: &str, help: Option<String>) -> PResult<Ident> {
        match self.peek() {
            Some(Tk::Ident(s)) if !is_keyword(s) => {
                let id = Spanned::new(s.clone(), self.tok_span(self.pos));
                self.pos += 1;
                Ok(id)
            }
            Some(Tk::Ident(s)) => {
                let s = s.clone();
                self.fail(
                    self.here(),
                    format!("expected {what}, found keyword `{s}`"),
                    help,
                )
            }
            _ => self.expected(what, help),
        }
    }

    pub(super) fn name(&mut self, what: &str) -> PResult<Ident> {
        self.name_with_help(what, None)
    }

    /// `*` or `a, b, c` (the list ends at the first name not preceded by a comma).
    pub(super) fn task_names(&mut self) -> PResult<TaskNames> {
        if self.is_punct(self.pos, '*') {
            self.pos += 1;
            return Ok(TaskNames::Any(self.tok_span(self.pos - 1)));
        }
        let mut names = vec![self.name_with_help("task name or `*`", None)?];
        while self.is_punct(self.pos, ',') && matches!(self.tk(self.pos + 1), Some(Tk::Ident(_))) {
            self.pos += 1;
            names.push(self.name("task name")?);
        }
        Ok(TaskNames::List(names))
    }

    pub(super) fn task_sel(&mut self) -> PResult<TaskSel> {
        if self.is_punct(self.pos, '*') {
            self.pos += 1;
            return Ok(TaskSel::Any(self.tok_span(self.pos - 1)));
        }
        Ok(TaskSel::Named(self.name("task name or `*`")?))
    }

    pub(super) fn region_sel(&mut self) -> PResult<RegionSel> {
        let span = self.tok_span(self.pos);
        match self.peek() {
            Some(Tk::Punct('*', _)) => {
                self.pos += 1;
                Ok(RegionSel::Any(span))
            }
            Some(Tk::Int(v)) => match u32::try_from(*v) {
                Ok(v) => {
                    self.pos += 1;
                    Ok(RegionSel::Index(Spanned::new(v, span)))
                }
                Err(_) => self.fail(
                    span,
                    format!("region argument index `{v}` is too large"),
                    Some("an argument index is a small non-negative integer".into()),
                ),
            },
            Some(Tk::BadLit { .. }) => self.bad_literal(),
            Some(Tk::Ident(s)) if !is_keyword(s) => {
                self.pos += 1;
                Ok(RegionSel::Named(Spanned::new(s.clone(), span)))
            }
            _ => self.expected(
                "region name, argument index or `*`",
                Some("the region column is `*`, a region/argument name or a 0-based index".into()),
            ),
        }
    }

    pub(super) fn proc_sel(&mut self) -> PResult<ProcSel> {
        if self.is_punct(self.pos, '*') {
            self.pos += 1;
            return Ok(ProcSel::Any(self.tok_span(self.pos - 1)));
        }
        Ok(ProcSel::Kind(self.proc_kind()?))
    }

    /// A processor kind. An unknown name is reported and skipped (the statement is dropped).
    pub(super) fn proc_kind(&mut self) -> PResult<Spanned<ProcKind>> {
        let span = self.tok_span(self.pos);
        let Some(Tk::Ident(s)) = self.peek() else {
            return self.expected(
                "processor kind",
                Some(format!("expected one of {PROC_LIST}")),
            );
        };
        self.pos += 1;
        if let Some(k) = ProcKind::parse(s) {
            return Ok(Spanned::new(k, span));
        }
        let help = match closest(s, ProcKind::names()) {
            Some(k) => format!("did you mean `{k}`?"),
            None if MemKind::parse(s).is_some() => {
                format!("`{s}` is a memory kind; expected a processor kind, one of {PROC_LIST}")
            }
            None => format!("expected one of {PROC_LIST}"),
        };
        self.err(Diagnostic::error(span, format!("unknown processor kind `{s}`")).with_help(help));
        Ok(Spanned::new(ProcKind::Cpu, span))
    }

    /// A memory kind. An unknown name is reported and skipped (the statement is dropped).
    pub(super) fn mem_kind(&mut self) -> PResult<Spanned<MemKind>> {
        let span = self.tok_span(self.pos);
        let Some(Tk::Ident(s)) = self.peek() else {
            return self.expected("memory kind", Some(format!("expected one of {MEM_LIST}")));
        };
        self.pos += 1;
        if let Some(k) = MemKind::parse(s) {
            return Ok(Spanned::new(k, span));
        }
        let help = match closest(s, MemKind::names()) {
            Some(k) => format!("did you mean `{k}`?"),
            None if ProcKind::parse(s).is_some() => {
                format!("`{s}` is a processor kind; expected a memory kind, one of {MEM_LIST}")
            }
            None => format!("expected one of {MEM_LIST}"),
        };
        self.err(Diagnostic::error(span, format!("unknown memory kind `{s}`")).with_help(help));
        Ok(Spanned::new(MemKind::Sysmem, span))
    }

    /// After a list item: a name on the same line means a forgotten `,`.
    pub(super) fn missing_comma(&mut self, what: &str, example: &str) -> PResult<()> {
        if matches!(self.peek(), Some(Tk::Ident(_))) && !self.starts_line(self.pos) {
            let found = self.found();
            return self.fail(
                self.here(),
                format!("expected `,` or `;` after {what}, found {found}"),
                Some(format!("separate {what}s with `,`: `{example}`")),
            );
        }
        Ok(())
    }

    pub(super) fn kind_list(&mut self) -> PResult<Vec<Spanned<ProcKind>>> {
        if !matches!(self.peek(), Some(Tk::Ident(_))) {
            return self.expected(
                "processor kind",
                Some(format!("write e.g. `Task * GPU,CPU;` (kinds: {PROC_LIST})")),
            );
        }
        let mut kinds = vec![self.proc_kind()?];
        while self.is_punct(self.pos, ',') {
            self.pos += 1;
            kinds.push(self.proc_kind()?);
        }
        self.missing_comma("processor kind", "GPU,CPU")?;
        Ok(kinds)
    }

    pub(super) fn mem_list(&mut self) -> PResult<Vec<Spanned<MemKind>>> {
        let mut mems = vec![self.mem_kind()?];
        while self.is_punct(self.pos, ',') {
            self.pos += 1;
            mems.push(self.mem_kind()?);
        }
        self.missing_comma("memory kind", "FBMEM,ZCMEM")?;
        Ok(mems)
    }

    pub(super) fn layout_target(&mut self) -> PResult<LayoutTarget> {
        let span = self.tok_span(self.pos);
        match self.peek() {
            Some(Tk::Punct('*', _)) => {
                self.pos += 1;
                Ok(LayoutTarget::Any(span))
            }
            Some(Tk::Ident(s)) => {
                self.pos += 1;
                if let Some(m) = MemKind::parse(s) {
                    return Ok(LayoutTarget::Mem(Spanned::new(m, span)));
                }
                if let Some(p) = ProcKind::parse(s) {
                    return Ok(LayoutTarget::Proc(Spanned::new(p, span)));
                }
                let help = match closest(s, MemKind::names().chain(ProcKind::names())) {
                    Some(k) => format!("did you mean `{k}`?"),
                    None => format!(
                        "expected `*`, a memory kind ({MEM_LIST}) or a processor kind ({PROC_LIST})"
                    ),
                };
                self.err(
                    Diagnostic::error(span, format!("unknown memory or processor kind `{s}`"))
                        .with_help(help),
                );
                Ok(LayoutTarget::Any(span))
            }
            _ => self.expected(
                "memory kind, processor kind or `*`",
                Some("write e.g. `Layout * * * SOA C_order;`".into()),
            ),
        }
    }

    pub(super) fn constraints(&mut self) -> PResult<Vec<Spanned<Constraint>>> {
        let mut out = Vec::new();
        loop {
            if self.is_punct(self.pos, ',') && !out.is_empty() {
                return self.fail(
                    self.here(),
                    "unexpected `,` between layout constraints",
                    Some("layout constraints are separated by spaces: `SOA C_order`".into()),
                );
            }
            let Some(Tk::Ident(s)) = self.peek() else {
                break;
            };
            let start = self.pos;
            let span = self.tok_span(start);
            self.pos += 1;
            let c = match s.as_str() {
                "SOA" => Constraint::Soa,
                "AOS" => Constraint::Aos,
                "C_order" => Constraint::COrder,
                "F_order" => Constraint::FOrder,
                "No_Align" => Constraint::NoAlign,
                "Compact" => Constraint::Compact,
                "Exact" => Constraint::Exact,
                "Align" => {
                    let op = self.align_op()?;
                    let n = match self.peek() {
                        Some(Tk::Int(v)) => *v,
                        Some(Tk::BadLit { .. }) => return self.bad_literal(),
                        _ => {
                            return self.expected(
                                &format!("alignment in bytes after `Align{}`", op.as_str()),
                                Some("write e.g. `Align==128`".into()),
                            )
                        }
                    };
                    self.pos += 1;
                    Constraint::Align(op, n)
                }
                _ => {
                    let help = match closest(s, Constraint::NAMES.iter().copied()) {
                        Some(k) => format!("did you mean `{k}`?"),
                        None => format!("expected one of {}", Constraint::NAMES.join(", ")),
                    };
                    self.err(
                        Diagnostic::error(span, format!("unknown layout constraint `{s}`"))
                            .with_help(help),
                    );
                    // Skip a misspelled `Align` clause's operator and value too.
                    while matches!(self.peek(), Some(Tk::Punct('=' | '!' | '<' | '>', _))) {
                        self.pos += 1;
                    }
                    if matches!(self.peek(), Some(Tk::Int(_))) {
                        self.pos += 1;
                    }
                    continue;
                }
            };
            out.push(Spanned::new(c, self.range(start, self.pos - 1)));
        }
        if out.is_empty() && !self.broken {
            return self.expected(
                "layout constraint",
                Some(format!("expected one of {}", Constraint::NAMES.join(", "))),
            );
        }
        Ok(out)
    }

    pub(super) fn align_op(&mut self) -> PResult<AlignOp> {
        let two = [
            ('=', '=', AlignOp::Eq),
            ('!', '=', AlignOp::Ne),
            ('<', '=', AlignOp::Le),
            ('>', '=', AlignOp::Ge),
        ];
        for (a, b, op) in two {
            if self.is_punct2(self.pos, a, b) {
                self.pos += 2;
                return Ok(op);
            }
        }
        if self.is_punct(self.pos, '<') {
            self.pos += 1;
            return Ok(AlignOp::Lt);
        }
        if self.is_punct(self.pos, '>') {
            self.pos += 1;
            return Ok(AlignOp::Gt);
        }
        self.expected(
            "comparison operator after `Align`",
            Some("write e.g. `Align==128` (operators: == != < <= > >=)".into()),
        )
    }

    // ----- functions -----

    /// `def NAME(TYPE ARG, ...) { BODY }`. Errors in the header mark the definition broken;
    /// broken body statements are left out of the body.
    pub(super) fn def(&mut self) -> PResult<FuncDef> {
        let start = self.pos;
        let def_tok = self.toks.get(start).map(|t| t.lo).unwrap_or_default();
        self.pos += 1;
        let name = self.name("function name")?;
        if !self.is_open(self.pos, '(') {
            return self.expected(
                "`(` after function name",
                Some("write `def NAME(Task task) { ... }`".into()),
            );
        }
        let params = self.params();
        if self.is_punct(self.pos, ':') {
            let colon = self.pos;
            self.err(
                Diagnostic::error(self.here(), "unexpected `:` in function definition")
                    .with_help("function bodies are wrapped in `{ }`, not introduced by `:`"),
            );
            self.pos += 1;
            if !self.is_open(self.pos, '{') {
                self.skip_python_body(colon, def_tok);
                return Err(Fail);
            }
        }
        if !self.is_open(self.pos, '{') {
            let found = self.found();
            return self.fail(
                self.here(),
                "expected `{` after function parameters",
                Some(format!(
                    "found {found}; function bodies are wrapped in `{{ }}`: `def f(Task task) {{ return ...; }}`"
                )),
            );
        }
        let header_broken = self.broken;
        let (close, saved) = self.enter();
        let body = self.body();
        self.end = saved;
        self.pos = close + 1;
        self.broken = header_broken;
        let span = self.range(start, close);
        Ok(FuncDef {
            name,
            params,
            body,
            span,
        })
    }

    /// After `def f(...):` without braces: skip the rest of the line and every following line
    /// indented deeper than the `def` (a Python-style body), so it is reported once.
    pub(super) fn skip_python_body(&mut self, colon: usize, def_pos: Pos) {
        let colon_line = self.toks.get(colon).map(|t| t.lo.line).unwrap_or(0);
        while self.pos < self.end {
            let Some(t) = self.toks.get(self.pos) else {
                break;
            };
            if t.lo.line != colon_line && self.starts_line(self.pos) && t.lo.col <= def_pos.col {
                break;
            }
            self.pos = self.skip_tree(self.pos);
        }
        self.recovered = true;
    }

    /// The parameter list; the position ends after `)` whatever happens.
    pub(super) fn params(&mut self) -> Vec<Param> {
        let (close, saved) = self.enter();
        let mut params = Vec::new();
        // An error has been reported (and the header marked broken); the rest of the list is
        // skipped below either way.
        let _ = self.param_list(&mut params);
        self.end = saved;
        self.pos = close + 1;
        params
    }

    /// `TYPE NAME, ...` up to the end of the enclosing group.
    pub(super) fn param_list(&mut self, params: &mut Vec<Param>) -> PResult<()> {
        while !self.at_end() {
            params.push(self.param()?);
            if self.at_end() {
                break;
            }
            if !self.is_punct(self.pos, ',') {
                return self.expected("`,` or `)` after parameter", None);
            }
            self.pos += 1;
        }
        Ok(())
    }

    pub(super) fn param(&mut self) -> PResult<Param> {
        let span = self.tok_span(self.pos);
        let Some(Tk::Ident(ty)) = self.peek() else {
            return self.expected(
                "parameter type",
                Some(format!(
                    "parameters are written `TYPE NAME`; types: {}",
                    type_list()
                )),
            );
        };
        self.pos += 1;
        if (self.at_end() || self.is_punct(self.pos, ',')) && ParamType::parse(ty).is_some() {
            return self.fail(
                span,
                format!("missing name for parameter of type `{ty}`"),
                Some(format!("parameters are written `TYPE NAME`, e.g. `{ty} x`")),
            );
        }
        if self.at_end() || self.is_punct(self.pos, ',') {
            return self.fail(
                span,
                format!("missing type for parameter `{ty}`"),
                Some(format!(
                    "parameters are written `TYPE NAME`, e.g. `Task {ty}`"
                )),
            );
        }
        let ty = match ParamType::parse(ty) {
            Some(t) => Spanned::new(t, span),
            None => {
                let help = match closest(ty, ParamType::ALL.iter().map(|t| t.as_str())) {
                    Some(k) => format!("did you mean `{k}`?"),
                    None => format!("expected one of {}", type_list()),
                };
                self.err(
                    Diagnostic::error(span, format!("unknown parameter type `{ty}`"))
                        .with_help(help),
                );
                Spanned::new(ParamType::Task, span)
            }
        };
        let name = self.name("parameter name")?;
        Ok(Param { ty, name })
    }

    /// Body statements up to the end of the enclosing `{ }` group.
    pub(super) fn body(&mut self) -> Vec<FnStmt> {
        let mut out = Vec::new();
        let body_end = self.end;
        while !self.at_end() && !self.full() {
            let start = self.pos;
            self.broken = false;
            self.depth = 0;
            match self.body_stmt() {
                Ok(Some(s)) if !self.broken => out.push(s),
                Ok(_) => {}
                Err(Fail) => {
                    self.end = body_end;
                    self.recover(start, true);
                }
            }
            if self.pos <= start {
                self.pos = self.skip_tree(start);
            }
        }
        out
    }

    pub(super) fn body_stmt(&mut self) -> PResult<Option<FnStmt>> {
        let start = self.pos;
        let name = match self.peek() {
            Some(Tk::Punct(';', _)) => {
                self.pos += 1;
                return Ok(None);
            }
            Some(Tk::Ident(s)) => s.as_str(),
            _ => return self.expected("statement", Some(body_help())),
        };
        match name {
            "return" => {
                self.pos += 1;
                if self.is_punct(self.pos, ';') || self.at_end() {
                    return self.fail(
                        self.tok_span(start),
                        "`return` needs a value",
                        Some("write `return EXPR;`".into()),
                    );
                }
                let value = self.expr()?;
                let span = self.end_stmt(start)?;
                Ok(Some(FnStmt::Return { value, span }))
            }
            "print" if self.is_open(self.pos + 1, '(') => {
                self.pos += 1;
                let (close, saved) = self.enter();
                let format = match self.peek() {
                    Some(Tk::Str(s)) => Spanned::new(s.clone(), self.tok_span(self.pos)),
                    Some(Tk::BadLit { .. }) => return self.bad_literal(),
                    _ => {
                        return self.fail(
                            self.here(),
                            "`print` needs a format string as its first argument",
                            Some("write e.g. `print(\"x = {}\", x);`".into()),
                        )
                    }
                };
                self.pos += 1;
                let mut args = Vec::new();
                while self.is_punct(self.pos, ',') {
                    self.pos += 1;
                    if self.at_end() {
                        break;
                    }
                    args.push(self.element()?);
                }
                if !self.at_end() {
                    return self.expected("`,` or `)` in `print(...)`", None);
                }
                self.leave(close, saved, "`)`")?;
                let span = self.end_stmt(start)?;
                Ok(Some(FnStmt::Print { format, args, span }))
            }
            "def" => self.fail(
                self.here(),
                "nested function definitions are not allowed",
                Some("define the function at top level".into()),
            ),
            _ if STATEMENT_KEYWORDS.contains(&name) => self.fail(
                self.here(),
                format!("`{name}` statements are only allowed at top level"),
                Some("move it out of the function body".into()),
            ),
            _ if self.is_assign_eq(self.pos + 1) => {
                if is_keyword(name) {
                    return self.fail(
                        self.here(),
                        format!("cannot assign to keyword `{name}`"),
                        Some("choose another name".into()),
                    );
                }
                let name = Spanned::new(name.to_string(), self.tok_span(self.pos));
                self.pos += 2;
                let value = self.expr()?;
                let span = self.end_stmt(start)?;
                Ok(Some(FnStmt::Assign { name, value, span }))
            }
            _ => {
                if let Some(kw) = closest(name, ["return", "print"]) {
                    return self.fail(
                        self.here(),
                        format!("unknown statement `{name}`"),
                        Some(format!("did you mean `{kw}`?")),
                    );
                }
                let found = self.found();
                self.fail(
                    self.here(),
                    format!(
                        "expected `NAME = EXPR;`, `return EXPR;` or `print(...);`, found {found}"
                    ),
                    Some(body_help()),
                )
            }
        }
    }
}
