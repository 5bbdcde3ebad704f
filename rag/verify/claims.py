"""Training pairs for the answer verifier, made from the KB itself (weak supervision, as in FactCC).

Each pair is (passage, claim, label). From a sentence of an article and its neighbours (the passage):
*supported* claims are the sentence, or the sentence without a parenthesis or a trailing clause;
*contradicted* claims are the sentence with one rule-based change that makes it false against the passage
(negation added or removed, a number changed, an antonym, an identifier from the same article put in
another's place, two identifiers swapped); *not enough info* claims are sentences of other articles.
No library makes such pairs for arbitrary text, so the transformations are written here; each returns None
when it does not apply, and every claim it returns differs from the sentence.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

SUPPORTED, CONTRADICTED, NOT_ENOUGH_INFO = "supported", "contradicted", "not_enough_info"
LABELS = (SUPPORTED, CONTRADICTED, NOT_ENOUGH_INFO)


@dataclass(frozen=True)
class Pair:
    passage: str
    claim: str
    label: str
    kind: str
    article_id: str


_NEGATE = [  # (pattern, replacement): add a negation
    (r"\b(is|are|was|were|can|must|should|will|does|do|has|have)\b(?! not\b)(?!n't)", r"\1 not"),
]
_AFFIRM = [  # remove one
    (r"\b(is|are|was|were|does|do|has|have|should|must) not\b", r"\1"),
    (r"\b(is|are|was|were|does|do|has|have|should|must)n't\b", r"\1"),
    (r"\bcannot\b|\bcan't\b|\bcan not\b", "can"),
    (r"\bwon't\b", "will"),
    (r"\bno longer\b", "still"),
    (r"\bnever\b", "always"),
]
_ANTONYMS = dict(
    pair
    for a, b in [
        ("allow", "deny"),
        ("allows", "denies"),
        ("allowed", "denied"),
        ("enable", "disable"),
        ("enabled", "disabled"),
        ("enables", "disables"),
        ("increase", "decrease"),
        ("increases", "decreases"),
        ("public", "private"),
        ("inbound", "outbound"),
        ("ingress", "egress"),
        ("before", "after"),
        ("minimum", "maximum"),
        ("required", "optional"),
        ("internal", "external"),
        ("add", "remove"),
        ("adds", "removes"),
        ("start", "stop"),
        ("upgrade", "downgrade"),
        ("more", "fewer"),
        ("higher", "lower"),
        ("larger", "smaller"),
        ("first", "last"),
        ("always", "never"),
        ("true", "false"),
        ("linux", "windows"),
        ("ipv4", "ipv6"),
        ("tcp", "udp"),
        ("read", "write"),
        ("supported", "unsupported"),
        ("automatically", "manually"),
        ("succeeds", "fails"),
        ("static", "dynamic"),
        ("system", "user"),
    ]
    for pair in ((a, b), (b, a))
)
_ANTONYM = re.compile(r"\b(" + "|".join(map(re.escape, _ANTONYMS)) + r")\b", re.IGNORECASE)
_NUMBER = re.compile(r"(?<![\w.])(\d+)(?![\w.]*\d)")
_IDENTIFIER = re.compile(r"`[^`\s]{2,40}`|--[a-z][a-z0-9-]+|\b[A-Z][a-z]+(?:[A-Z][a-z0-9]+)+\b")
_PARENTHESIS = re.compile(r"\s*\([^()]{3,80}\)")
_TRAILING_CLAUSE = re.compile(r",\s+(?:which|so|and|but|because|while|as)\b[^,]*\.?$")


def _negate(sentence: str, rng: random.Random) -> str | None:
    for pattern, repl in _AFFIRM:
        if re.search(pattern, sentence, re.IGNORECASE):
            return re.sub(pattern, repl, sentence, count=1, flags=re.IGNORECASE)
    for pattern, repl in _NEGATE:
        if re.search(pattern, sentence):
            return re.sub(pattern, repl, sentence, count=1)
    return None


def _number(sentence: str, rng: random.Random) -> str | None:
    found = list(_NUMBER.finditer(sentence))
    if not found:
        return None
    match = rng.choice(found)
    value = int(match.group(1))
    other = rng.choice([v for v in (value * 2, value + 1, max(value - 1, 0), value * 10) if v != value])
    return sentence[: match.start()] + str(other) + sentence[match.end() :]


def _antonym(sentence: str, rng: random.Random) -> str | None:
    found = list(_ANTONYM.finditer(sentence))
    if not found:
        return None
    match = rng.choice(found)
    word = match.group(0)
    swapped = _ANTONYMS[word.lower()]
    swapped = swapped.capitalize() if word[0].isupper() else swapped
    return sentence[: match.start()] + swapped + sentence[match.end() :]


def _role_swap(sentence: str, rng: random.Random) -> str | None:
    found = list(dict.fromkeys(m.group(0) for m in _IDENTIFIER.finditer(sentence)))
    if len(found) < 2:
        return None
    a, b = rng.sample(found, 2)
    return sentence.replace(a, "\0").replace(b, a).replace("\0", b)


def contradict(sentence: str, rng: random.Random, identifiers: Sequence[str] = ()) -> tuple[str, str] | None:
    """One contradicting rewrite of ``sentence``: (claim, kind), or None when no rule applies."""
    rules: list[tuple[str, Callable[[str, random.Random], str | None]]] = [
        ("negation", _negate),
        ("number", _number),
        ("antonym", _antonym),
        ("role_swap", _role_swap),
        ("entity_swap", lambda s, r: _entity_swap(s, r, identifiers)),
    ]
    rng.shuffle(rules)
    for kind, rule in rules:
        claim = rule(sentence, rng)
        if claim and claim != sentence:
            return claim, kind
    return None


def _entity_swap(sentence: str, rng: random.Random, identifiers: Sequence[str]) -> str | None:
    found = [m.group(0) for m in _IDENTIFIER.finditer(sentence)]
    others = [i for i in identifiers if i not in found]
    if not found or not others:
        return None
    return sentence.replace(rng.choice(found), rng.choice(others), 1)


_LEADING = re.compile(r"^(In|On|For|With|By default|When|After|Before|If)\b([^,]{3,60}),\s+(.+?)\.?$")
_SYNONYMS = {
    "use": "utilize",
    "create": "make",
    "need": "require",
    "must": "has to",
    "shows": "displays",
    "helps": "lets you",
    "run": "execute",
    "check": "verify",
    "assign": "give",
    "default": "standard",
    "allows": "lets",
    "provides": "gives",
    "requires": "needs",
    "supports": "works with",
    "configure": "set up",
    "remove": "delete",
    "specify": "set",
    "ensure": "make sure",
    "However,": "But",
    "recommend": "advise",
    "enables": "turns on",
    "contains": "holds",
    "multiple": "several",
}


_MODIFIER_WORDS = (
    "also just typically usually currently generally new existing specific certain additional different various "
    "following particular entire whole simply easily quickly directly automatically really very further then"
)
_MODIFIERS = frozenset(_MODIFIER_WORDS.split())


def _drop_words(sentence: str, rng: random.Random) -> str | None:
    """A shorter claim: one or two modifiers ("also", "typically", "existing", "-ly" adverbs) dropped."""
    words = sentence.split()
    droppable = [
        i for i, w in enumerate(words[1:-1], 1) if w.lower() in _MODIFIERS or (w.endswith("ly") and len(w) > 5)
    ]
    if not droppable:
        return None
    gone = set(rng.sample(droppable, min(2, len(droppable))))
    return " ".join(w for i, w in enumerate(words) if i not in gone)


def _reword(sentence: str, rng: random.Random) -> str | None:
    """The same statement worded otherwise: a leading clause moved to the end, or a verb swapped for a synonym."""
    lead = _LEADING.match(sentence)
    if lead:
        rest = lead.group(3)
        return f"{rest[0].upper()}{rest[1:]} {lead.group(1).lower()}{lead.group(2)}."
    found = [w for w in _SYNONYMS if re.search(rf"\b{w}\b", sentence)]
    if not found:
        return None
    word = rng.choice(found)
    return re.sub(rf"\b{word}\b", _SYNONYMS[word], sentence, count=1)


_FRAMES = ("Note that ", "In short, ", "As documented, ", "Basically, ", "Keep in mind that ", "The docs say that ")


def _frame(sentence: str, rng: random.Random) -> str | None:
    """The sentence as an answer would put it: "Note that …", "In short, …"."""
    if not sentence[:1].isupper() or sentence[1:2].isupper():  # `code`, an acronym: leave the first word alone
        return None
    return rng.choice(_FRAMES) + sentence[0].lower() + sentence[1:]


def support(sentence: str, rng: random.Random) -> tuple[str, str]:
    """A claim the sentence entails: reworded, shortened, without a parenthesis or trailing clause, several of
    these at once, or (less often) itself."""
    options = [("copy", sentence)]
    combined = sentence
    for kind, rule in (("reword", _reword), ("drop_words", _drop_words), ("reword", _reword), ("frame", _frame)):
        claim = rule(combined, rng)
        if claim and claim != combined:
            options += [(kind, claim)] * 2
            combined = claim
    if combined != sentence:
        options += [("combined", combined)] * 3
    shorter = _PARENTHESIS.sub("", sentence)
    if shorter != sentence:
        options.append(("drop_parenthesis", shorter))
    clause = _TRAILING_CLAUSE.sub(".", sentence)
    if clause != sentence and len(clause.split()) >= 5:
        options.append(("main_clause", clause))
    kind, claim = rng.choice(options)
    return claim, kind


def make_pairs(articles: dict[str, list[str]], seed: int = 13, per_article: int = 40) -> list[Pair]:
    """Pairs from each article's sentences (in order): for up to ``per_article`` sentences, one supported,
    one contradicted (when a rule applies) and one not-enough-info claim, shuffled."""
    rng = random.Random(seed)
    ids = sorted(articles)
    pairs: list[Pair] = []
    for article_id in ids:
        sentences = [s for s in articles[article_id] if 5 <= len(s.split()) <= 60]
        identifiers = sorted({m.group(0) for s in sentences for m in _IDENTIFIER.finditer(s)})
        for i in sorted(rng.sample(range(len(sentences)), min(per_article, len(sentences)))):
            sentence = sentences[i]
            passage = " ".join(sentences[max(i - 1, 0) : i + 2])
            claim, kind = support(sentence, rng)
            pairs.append(Pair(passage, claim, SUPPORTED, kind, article_id))
            # The same surface changes go into contradictions, so "worded differently" cannot stand in for
            # "says something else" (a first model trained without this called every paraphrase a contradiction).
            contradiction = contradict(support(sentence, rng)[0], rng, identifiers)
            if contradiction:
                pairs.append(Pair(passage, contradiction[0], CONTRADICTED, contradiction[1], article_id))
            other = rng.choice([a for a in ids if a != article_id] or [article_id])
            if articles[other] and other != article_id:
                pairs.append(Pair(passage, rng.choice(articles[other]), NOT_ENOUGH_INFO, "other_article", article_id))
    rng.shuffle(pairs)
    return pairs
