"""Reading an Authentication-Results header (RFC 8601): tokens, quoted strings and nested comments."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class MethodResult:
    """One resinfo: `dkim=pass header.d=example.org` → method "dkim", result "pass", props {"header.d": …}."""

    method: str
    result: str
    props: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AuthResults:
    """The authserv-id and the method results of one header; `ok` False when it could not be read."""

    authserv_id: str
    results: tuple[MethodResult, ...]
    ok: bool = True


_SPECIALS = frozenset(";=")


class Special(str):
    """The separator ";" or "=" as written outside quotes and comments (a quoted ";" is a plain str)."""

    __slots__ = ()


SEMI, EQUALS = Special(";"), Special("=")


def tokenize(value: str) -> list[str]:
    """Words, quoted strings (unquoted, escapes resolved) and the specials ";" and "=" (as `Special`);
    comments (nested, with quoted pairs) and folding whitespace dropped. ValueError when unbalanced."""
    tokens: list[str] = []
    word: list[str] = []
    i, n = 0, len(value)

    def end_word() -> None:
        if word:
            tokens.append("".join(word))
            word.clear()

    while i < n:
        c = value[i]
        if c == "(":
            end_word()
            depth = 1
            i += 1
            while i < n and depth:
                if value[i] == "\\":
                    i += 1
                elif value[i] == "(":
                    depth += 1
                elif value[i] == ")":
                    depth -= 1
                i += 1
            if depth:
                raise ValueError("unterminated comment")
            continue
        if c == '"':
            i += 1
            quoted: list[str] = []
            while i < n and value[i] != '"':
                if value[i] == "\\" and i + 1 < n:
                    i += 1
                quoted.append(value[i])
                i += 1
            if i >= n:
                raise ValueError("unterminated quoted string")
            word.append("".join(quoted))
            i += 1
            continue
        if c in _SPECIALS:
            end_word()
            tokens.append(SEMI if c == ";" else EQUALS)
        elif c.isspace():
            end_word()
        elif c == ")":
            raise ValueError("unbalanced ')'")
        else:
            word.append(c)
        i += 1
    end_word()
    return tokens


def parse(value: str) -> AuthResults:
    """authserv-id [version] *( ";" resinfo ); a header that cannot be read has ok=False."""
    try:
        tokens = tokenize(value)
    except ValueError:
        return AuthResults("", (), ok=False)
    clauses: list[list[str]] = [[]]
    for token in tokens:
        if token is SEMI:
            clauses.append([])
        else:
            clauses[-1].append(token)
    head = clauses[0]
    if not head or isinstance(head[0], Special):
        return AuthResults("", (), ok=False)
    results: list[MethodResult] = []
    for clause in clauses[1:]:
        if not clause:
            continue
        if len(clause) < 3 or clause[1] is not EQUALS or isinstance(clause[2], Special):
            if clause == ["none"]:
                continue  # "authserv-id; none": no method was run
            return AuthResults(head[0].lower(), tuple(results), ok=False)
        method, result = clause[0].lower().split("/", 1)[0], clause[2].lower()
        props: dict[str, str] = {}
        rest = clause[3:]
        j = 0
        while j < len(rest):
            if j + 2 < len(rest) and rest[j + 1] is EQUALS and not isinstance(rest[j + 2], Special):
                props.setdefault(rest[j].lower(), rest[j + 2])
                j += 3
            else:
                j += 1  # a stray word or separator: not a property we read
        results.append(MethodResult(method, result, props))
    return AuthResults(head[0].lower(), tuple(results))
