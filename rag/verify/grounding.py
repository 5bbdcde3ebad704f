"""Is an answer sentence supported by a source passage? One scorer for `kbqa eval`, `kbqa eval answers` and
the check of generated answers.

Three signals, cheapest first:
- hard facts: numbers, versions, codes, flags and other identifiers in the sentence must occur in the source
  (a changed port or error code is a usual way a fluent answer goes wrong, and barely moves the other signals);
- semantic: cosine between the sentence and the best source sentence or pair of adjacent sentences, with
  the same embedding model as retrieval, so paraphrases count;
- lexical: share of the sentence's terms found in the three source passages closest to it (local support,
  not words scattered over a whole chunk).
A flipped negation counts only when a close source passage holds every term of the sentence but the opposite
polarity ("kube-proxy is a CNI plugin" against "kube-proxy is not … a CNI plugin"): a looser negation check
was measured and dropped, as paraphrases flip polarity as often as contradictions do. Questions in the
source ("Is kube-proxy a CNI plugin?") are not evidence.
A local NLI cross-encoder (setting ``nli_model``) replaces lexical + semantic when configured.
Hand-written because no maintained library scores support offline without an LLM judge (ragas, deepeval and
langchain's evaluators all call one); the thresholds are measured on eval/grounding.jsonl (eval/README.md).
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from langchain_core.embeddings import Embeddings

from rag.errors import NliModelError
from rag.index.keyword import tokenize
from rag.text.sentences import sentences_of
from rag.verify.claims import CONTRADICTED as CONTRADICTED_LABEL

if TYPE_CHECKING:
    from rag.verify.verifier import Verifier

LEXICAL_WEIGHT = 0.5  # score = 0.5·lexical + 0.5·semantic, measured on eval/grounding.jsonl
EVIDENCE_WINDOWS = 3
NLI_THRESHOLD = 0.5

_TOKEN = re.compile(r"[^\s,;()\[\]{}<>\"'`]+")
_EDGE = ".:;!?-/~'\""
_CAMEL = re.compile(r"[a-z][A-Z]")
_NOT_FACTS = frozenset({"e.g", "i.e", "etc", "vs"})
_CITATION = re.compile(r"\s*\[\d+(?:\s*,\s*\d+)*\]")
_NEGATION = re.compile(r"\b(?:not|no|never|none|cannot|neither|nor)\b|n't\b", re.IGNORECASE)
CONTRADICTED = "contradicted by the source"
# "Assign the …", "Run `az …`", "Remove it": a verb with no subject before its object.
_IMPERATIVE = re.compile(r"^\s*[A-Z][a-z]+\s+(?:the|a|an|your|its|this|that|these|those|all|any|it|them|`)", re.M)
_PROHIBITION = re.compile(r"^\s*(?:do not|don't|never|avoid)\b", re.IGNORECASE)
NEAR_VERBATIM = 0.9
_MAIN_VERB = re.compile(
    r"\b(?:is|are|isn't|aren't|was|were|does|doesn't|do|don't|can|cannot|can't|will|won't|must|should|has|have)\b",
    re.IGNORECASE,
)
_VERB_BASE = {"isn't": "is", "aren't": "are", "doesn't": "does", "don't": "do", "cannot": "can", "can't": "ca",
              "won't": "wo"}  # fmt: skip
_SUBORDINATE = re.compile(
    r"(?:once|if|when|whenever|after|before|while|although|though|because|since|unless|as|until)\b", re.IGNORECASE
)
_COPULAR_HEAD = re.compile(
    r"[^,;:.]{1,60}?\s(?:is|are|isn't|aren't|was|were)\s(?:not\s)?[^,;:.]{1,60}?(?=\s(?:that|which|who|used|to|for|in|on|with|and|because|so)\s)",
    re.IGNORECASE,
)  # share of the sentence's terms a passage must hold for a polarity flip to count
# Words that stress a claim without changing it: "Kube-proxy is indeed a CNI plugin" claims what "… is a CNI
# plugin" does, so they must not keep a claim from meeting the source sentence that says the opposite.
_EMPHASIS = re.compile(
    r"\b(?:indeed|actually|really|definitely|certainly|truly|absolutely|obviously|clearly|in fact|of course)\b", re.I
)
_VERDICT = re.compile(r"^(?:yes|no)\b[.,:;!]*\s*", re.IGNORECASE)


@dataclass(frozen=True)
class Support:
    supported: bool
    score: float
    lexical: float
    semantic: float
    evidence: str
    reason: str = ""
    nli: float | None = None


def strip_citations(sentence: str) -> str:
    return _CITATION.sub("", sentence).strip()


def claim(sentence: str) -> str:
    """The checkable part of a sentence: no citation markers, no leading "Yes."/"No." verdict."""
    return _VERDICT.sub("", strip_citations(sentence)).strip()


def lexical_support(sentence: str, source: str) -> float:
    """Share of the sentence's terms that the source contains (1.0 for a verbatim quote)."""
    terms = set(tokenize(sentence))
    return len(terms & set(tokenize(source))) / len(terms) if terms else 1.0


def missing_facts(sentence: str, source: str) -> list[str]:
    """Numbers, codes and identifiers of the sentence that the source does not contain."""
    haystack = source.lower()
    facts = {f.lower() for f in _facts(sentence)} - _NOT_FACTS
    return sorted(f for f in facts if f not in haystack)


def main_clause(sentence: str) -> str:
    """ "kube-proxy is a Kubernetes plugin" of "kube-proxy is a Kubernetes plugin that sets up …"; "" if none."""
    if _SUBORDINATE.match(sentence):  # "Once X is enabled, it can't …": the head is not the claim
        return ""
    match = _COPULAR_HEAD.match(sentence)
    return match.group(0).strip() if match and match.end() < len(sentence.rstrip(". ")) else ""


def _near(text: str, windows: list[str], unit_terms: list[frozenset[str]]) -> list[str]:
    """Source sentences holding (nearly) every term of ``text`` (emphasis such as "indeed" is not a term)."""
    terms = set(tokenize(_EMPHASIS.sub(" ", text)))
    if not terms:
        return []
    return [windows[i] for i, unit in enumerate(unit_terms) if len(terms & unit) / len(terms) >= NEAR_VERBATIM]


def _flipped_head(sentence: str, windows: list[str], unit_terms: list[frozenset[str]]) -> str | None:
    """ "X is a Y …" where a source sentence says X is not … Y: the polarity check on the main clause."""
    head = main_clause(sentence)
    return _flipped(head, _near(head, windows, unit_terms)) if head else None


def _flipped(claim_text: str, near: list[str]) -> str | None:
    """The source sentence with the claim's words and verb that says the opposite ("is not" for "is"), if any.

    Sharing the verb keeps "Let me clarify the roles of kube-proxy and a CNI plugin" (no "is") from
    contradicting "kube-proxy is not a CNI plugin".
    """
    match = _MAIN_VERB.search(claim_text)
    if not match:
        return None
    verb = _VERB_BASE.get(match.group(0).lower(), match.group(0).lower())
    stated = re.compile(rf"\b{verb}(?:n't|not)?\b", re.IGNORECASE)
    if _IMPERATIVE.match(claim_text):
        # An instruction ("Assign the identity to the app") is contradicted by an instruction not to, never by a
        # statement of the problem it fixes ("The identity is not assigned to the app").
        near = [u for u in near if _PROHIBITION.match(u)]
    return next((u for u in near if stated.search(u) and negated(u) != negated(claim_text)), None)


def negated(text: str) -> bool:
    return len(_NEGATION.findall(text)) % 2 == 1


def _facts(sentence: str) -> list[str]:
    """Tokens a paraphrase cannot change: with a digit, a flag, a path or dotted name, snake_ or CamelCase."""
    facts = []
    for match in _TOKEN.finditer(sentence):
        raw = match.group()
        token = raw.strip(_EDGE)
        if not token:
            continue
        if "/" in token and raw[0].isalpha() and "://" not in token and not any(c.isdigit() for c in token):
            facts += [part for part in token.split("/") if _is_fact(part, part)]  # "subnet/VNet" means "or"
        elif _is_fact(raw, token):
            facts.append(token)
    return facts


def _is_fact(raw: str, token: str) -> bool:
    inner = token[1:-1]
    return bool(
        any(c.isdigit() for c in token)
        or raw.startswith("--")
        or any(c in inner for c in "_./:\\")
        or _CAMEL.search(token)
    )


class GroundednessScorer:
    """Scores sentences against sources; source sentence embeddings are cached, as the same chunks recur."""

    def __init__(
        self,
        embeddings: Embeddings,
        threshold: float,
        nli: NliScorer | None = None,
        cache_size: int = 4096,
        lexical_weight: float = LEXICAL_WEIGHT,
        verifier: Verifier | None = None,
    ) -> None:
        self.embeddings = embeddings
        self.threshold = threshold
        self.lexical_weight = lexical_weight
        self.nli = nli
        self.verifier = verifier
        self._cache: OrderedDict[str, tuple[list[str], np.ndarray, list[frozenset[str]]]] = OrderedDict()
        self._cache_size = cache_size

    def check(self, sentence: str, source: str) -> Support:
        return self.check_many([sentence], [source])[0]

    def check_many(self, sentences: Sequence[str], sources: Sequence[str], verify: bool = True) -> list[Support]:
        """Score ``sentences[i]`` against ``sources[i]``; one embedding call for all the sentences. ``verify``:
        also ask the verifier (when one is loaded) about each pair."""
        clean = [claim(s) for s in sentences]
        vectors = np.asarray(self.embeddings.embed_documents(clean)) if clean else np.zeros((0, 1))
        return [self._support(s, src, vec, verify) for s, src, vec in zip(clean, sources, vectors, strict=True)]

    def best(self, sentence: str, sources: Sequence[str]) -> tuple[int, Support]:
        """The source that supports ``sentence`` best: (its index, its support); (-1, …) with no sources."""
        if not sources:
            return -1, Support(False, 0.0, 0.0, 0.0, "", "no source")
        text = claim(sentence)
        vector = np.asarray(self.embeddings.embed_documents([text]))[0]  # once, not once per source
        results = [self._support(text, source, vector, verify=False) for source in sources]
        contradicted = [j for j, r in enumerate(results) if r.reason == CONTRADICTED]
        if contradicted:  # one source saying the opposite outweighs another that merely uses the same words
            return contradicted[0], results[contradicted[0]]
        i = max(range(len(results)), key=lambda j: (results[j].supported, results[j].score))
        if self.verifier is not None and not results[i].reason.startswith("not in the source"):
            # Asked once, about the passages closest to the sentence over all the sources: asked per source, its
            # few false alarms per passage added up over an article's many chunks.
            j, passage = self._closest_passage_contradicting(text, vector, sources)
            if j is not None:
                return j, replace(results[j], supported=False, evidence=passage, reason=CONTRADICTED)
        return i, results[i]

    def _closest_passage_contradicting(
        self, text: str, vector: np.ndarray, sources: Sequence[str]
    ) -> tuple[int | None, str]:
        """The source and passage the verifier finds contradicting ``text`` (embedded as ``vector``), among the
        passages closest to it."""
        assert self.verifier is not None
        ranked: list[tuple[float, int, str]] = []
        for j, source in enumerate(sources):
            windows, matrix, _ = self._windows(source)
            if windows:
                sims = matrix @ vector
                ranked.extend((float(sims[k]), j, windows[k]) for k in np.argsort(-sims)[:EVIDENCE_WINDOWS])
        top = sorted(ranked, key=lambda r: -r[0])[:EVIDENCE_WINDOWS]
        judged = self.verifier.judge(text, [w for _, _, w in top])
        if judged.label != CONTRADICTED_LABEL:
            return None, ""
        return next(j for _, j, w in top if w == judged.passage), judged.passage

    def _support(self, sentence: str, source: str, vector: np.ndarray, verify: bool = True) -> Support:
        windows, matrix, unit_terms = self._windows(source)
        if not windows:
            return Support(False, 0.0, 0.0, 0.0, "", "empty source")
        similarities = matrix @ vector
        order = np.argsort(-similarities)[:EVIDENCE_WINDOWS]
        semantic = float(max(similarities[order[0]], 0.0))
        evidence = windows[order[0]]
        top = [windows[i] for i in order]
        lexical = lexical_support(sentence, " ".join(top))
        score = self.lexical_weight * lexical + (1 - self.lexical_weight) * semantic
        nli = self.nli.entailment(evidence, sentence) if self.nli else None
        reason = ""
        judged = self.verifier.judge(sentence, top) if self.verifier is not None and verify else None
        if missing := missing_facts(sentence, source):
            reason = "not in the source: " + ", ".join(missing)
        elif judged is not None and judged.label == CONTRADICTED_LABEL:
            reason, evidence = CONTRADICTED, judged.passage
        elif opposite := (
            _flipped(sentence, _near(sentence, windows, unit_terms)) or _flipped_head(sentence, windows, unit_terms)
        ):
            reason, evidence = CONTRADICTED, opposite  # the sentence that says the opposite is the evidence
        elif nli is not None and nli < NLI_THRESHOLD:
            reason = f"NLI entailment {nli:.2f}"
        elif nli is None and score < self.threshold:
            reason = f"weak support {score:.2f}"
        return Support(not reason, round(score, 4), round(lexical, 4), round(semantic, 4), evidence, reason, nli)

    def _windows(self, source: str) -> tuple[list[str], np.ndarray, list[frozenset[str]]]:
        """Source sentences, then adjacent pairs (a claim often spans two), embedded once per source text.

        Also the terms of each sentence (the first ``len(terms)`` windows), for the polarity checks.
        """
        key = hashlib.sha1(source.encode("utf-8")).hexdigest()
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        units = sentences_of(source)
        windows = units + [f"{a} {b}" for a, b in itertools.pairwise(units)]
        matrix = np.asarray(self.embeddings.embed_documents(windows)) if windows else np.zeros((0, 1))
        terms = [frozenset(tokenize(u)) for u in units]
        self._cache[key] = (windows, matrix, terms)
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return windows, matrix, terms


class NliScorer:
    """A local NLI cross-encoder (sentence-transformers ``CrossEncoder`` folder): P(premise entails hypothesis)."""

    def __init__(self, path: str, device: str = "cpu") -> None:
        from sentence_transformers import CrossEncoder

        if not Path(path).expanduser().is_dir():
            raise NliModelError(
                f"NLI model folder {path} does not exist. Set KBQA_NLI_MODEL to a local cross-encoder folder "
                "(e.g. a saved cross-encoder/nli-deberta-v3-small) or unset it (downloads are disabled)."
            )
        try:
            self.model = CrossEncoder(str(Path(path).expanduser()), device=device, local_files_only=True)
        except Exception as exc:
            raise NliModelError(f"Cannot load NLI model {path}: {exc}.") from exc
        labels: dict[Any, str] = getattr(self.model.config, "id2label", {}) or {}
        found = [int(i) for i, name in labels.items() if "entail" in str(name).lower()]
        if not found:
            raise NliModelError(
                f"NLI model {path} has no 'entailment' label (labels: {list(labels.values())}); "
                "use an NLI cross-encoder."
            )
        self.entailment_index = found[0]

    def entailment(self, premise: str, hypothesis: str) -> float:
        probabilities = self.model.predict([(premise, hypothesis)], apply_softmax=True, show_progress_bar=False)
        return float(np.asarray(probabilities)[0][self.entailment_index])
