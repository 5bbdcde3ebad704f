"""BM25 keyword index: tokens that keep pasted strings whole, search, filters, persistence."""

from __future__ import annotations

from pathlib import Path

from rag.index.keyword import KeywordIndex, tokenize

TEXTS = [
    "AKS workload identity fails with AADSTS70021: No matching federated identity record found.",
    "CoreDNS lookups in AKS time out: dial tcp: lookup api on 10.0.0.10:53: i/o timeout.",
    "Intune enrollment error 0x80180014 means a platform restriction blocks the device.",
    "kube-proxy programs iptables rules for Services; it is not a CNI plugin.",
]
IDS = ["wi#0", "dns#0", "intune#0", "kp#0"]
TAGS = ["aks,identity", "aks,dns", "intune", "kubernetes"]


def test_tokenize_keeps_codes_whole_and_splits_words() -> None:
    """Compound tokens stay whole for exact matches and also split into stemmed parts."""
    tokens = tokenize("kube-proxy SubnetIsFull 0x80180014 10.0.0.10:53 failing pods")
    for expected in ("kube-proxy", "kube", "proxi", "subnet", "full", "0x80180014", "10.0.0.10:53", "fail", "pod"):
        assert expected in tokens


def test_exact_error_strings_rank_their_chunk_first() -> None:
    """A pasted error code or message finds the chunk that quotes it."""
    index = KeywordIndex.build(IDS, TEXTS, TAGS)
    for query, expected in [
        ("AADSTS70021", "wi#0"),
        ("0x80180014", "intune#0"),
        ("lookup api on 10.0.0.10:53: i/o timeout", "dns#0"),
        ("is kube proxy a cni plugin", "kp#0"),
    ]:
        assert index.search(tokenize(query), 2)[0].chunk_id == expected


def test_tag_filter_and_no_match() -> None:
    """Tag filters exclude other chunks; a query with no known term returns nothing."""
    index = KeywordIndex.build(IDS, TEXTS, TAGS)
    hits = index.search(tokenize("identity dns timeout"), 5, tags=["dns"])
    assert [h.chunk_id for h in hits] == ["dns#0"]
    assert index.search(tokenize("zzzz qqqq"), 5) == []


def test_save_load_roundtrip_and_idf(tmp_path: Path) -> None:
    """A saved index loads with the same ids, fingerprint and scores; rare terms weigh more."""
    index = KeywordIndex.build(IDS, TEXTS, TAGS)
    index.save(tmp_path / "kw")
    index.save(tmp_path / "kw")  # saving over an existing index swaps it
    loaded = KeywordIndex.load(tmp_path / "kw")
    assert loaded is not None
    assert loaded.ids == IDS and loaded.fingerprint == index.fingerprint
    assert loaded.search(tokenize("AADSTS70021"), 1) == index.search(tokenize("AADSTS70021"), 1)
    (aks,) = tokenize("AKS")
    assert loaded.idf("aadsts70021") > loaded.idf(aks)
    assert loaded.idf("never-seen-term") >= loaded.idf("aadsts70021")
    assert KeywordIndex.load(tmp_path / "missing") is None


def test_misspelt_words_are_read_as_the_kb_spells_them(tmp_path: Path) -> None:
    """One edit (a swapped pair counts as one) from a KB word, two from eight letters: the KB's spelling, also
    after the index is saved and loaded. Short words and words the KB has stay as written."""
    texts = [*TEXTS, "Prometheus retention defaults to 15 days for the cluster.", "Each cluster has federation."]
    index = KeywordIndex.build([*IDS, "p#0", "p#1"], texts, [*TAGS, "", ""])
    index.save(tmp_path / "kw")
    loaded = KeywordIndex.load(tmp_path / "kw")
    assert loaded is not None
    for kb in (index, loaded):
        assert kb.corrected("promethues retenion on my clsuter") == "prometheus retention on my cluster"
        assert kb.corrected("federaton of eks clusters") == "federation of eks clusters"
        assert kb.corrected("kube-proxy iptables rules") == "kube-proxy iptables rules"
        assert kb.corrected("terraform module") == "terraform module"  # nothing close: a word the KB lacks


def test_question_weights_skip_question_words_and_the_askers_own_values() -> None:
    """What a question asks about: no "what"/"does"/"we", no ID or address from the asker's own system (no
    article can hold them), misspellings as the KB's terms, unknown words at the highest weight."""
    index = KeywordIndex.build(IDS, TEXTS, TAGS)
    weights = index.weights("what does the coredns timeout on 10.1.2.3:53 from pod-7f9c mean for us? okta")
    assert "what" not in weights and "doe" not in weights and "us" not in weights
    assert "10.1.2.3:53" not in weights and "pod-7f9c" not in weights
    assert "timeout" in weights and weights["okta"] == max(weights.values())
    assert "fail" in index.weights("workload identity fials")


def test_a_narrative_weighs_only_the_words_the_kb_knows() -> None:
    """In a ticket, words no article uses are the customer's story (names, days); in a question they may name a
    product the KB lacks, so only a question keeps them."""
    index = KeywordIndex.build(IDS, TEXTS, TAGS)
    ticket = "since monday our colleague hmuller sees coredns timeout"
    assert "hmuller" in index.weights(ticket) and "monday" in index.weights(ticket)
    narrative = index.weights(ticket, narrative=True)
    assert "hmuller" not in narrative and "monday" not in narrative
    assert narrative["timeout"] == index.weights(ticket)["timeout"]


def test_an_index_updated_from_saved_tokens_equals_a_fresh_build(tmp_path: Path) -> None:
    """Issue 17: the next generation's BM25 index reuses the saved tokens of the kept chunks; its ids, scores,
    IDF, vocabulary and spelling list are those of an index built from all the texts."""
    import numpy as np

    texts = {
        "a#0": "kube-proxy manages network rules on each node; it is not a CNI plugin",
        "b#0": "A CNI plugin assigns IP addresses to pods. Calico and Cilium are CNI plugins.",
        "c#0": "Zorblax licensing: the RMM agent reports devices every fifteen minutes",
        "d#0": "Enrollment fails with error 0x80180014 when the device limit is reached",
    }
    first = KeywordIndex.build(list(texts), list(texts.values()), ["k8s", "k8s", "rmm", "intune"])
    first.save(tmp_path / "gen1")
    changed = {"b#1": "A CNI plugin sets up the pod network; Cilium can replace kube-proxy."}
    updated = KeywordIndex.updated(
        tmp_path / "gen1", {"b#0", "c#0"}, [texts["b#0"], texts["c#0"]], list(changed), list(changed.values()), ["k8s"]
    )
    kept = {"a#0": texts["a#0"], "d#0": texts["d#0"], **changed}
    fresh = KeywordIndex.build(list(kept), list(kept.values()), ["k8s", "intune", "k8s"])
    assert updated is not None and updated.ids == fresh.ids
    for query in ("cni plugin kube-proxy", "cilium pod network", "zorblax licensing", "device limit"):
        assert np.allclose(updated._bm25.get_scores(tokenize(query)), fresh._bm25.get_scores(tokenize(query)))
    assert set(updated._bm25.vocab_dict) == set(fresh._bm25.vocab_dict)
    assert all(updated.idf(t) == fresh.idf(t) for t in ("cni", "zorblax", "cilium"))
    assert updated._words == fresh._words and "zorblax" not in updated._words  # dropped texts leave the list
    assert [h.chunk_id for h in updated.search(tokenize("kube-proxy"), 5, ["k8s"])] == [
        h.chunk_id for h in fresh.search(tokenize("kube-proxy"), 5, ["k8s"])
    ]
    assert KeywordIndex.updated(tmp_path / "nothing-saved", set(), [], [], [], []) is None


def test_the_numpy_bm25_scores_equal_bm25s_own() -> None:
    """kbqa computes bm25s' Lucene BM25 matrix in numpy (bm25s loops over chunks in Python, 4 s at 100k): every
    query scores every chunk as bm25s' own index does."""
    import bm25s
    import numpy as np

    texts = [*TEXTS, "kube-proxy kube-proxy kube-proxy: the same word many times", "a", "AKS AKS dns dns dns timeout"]
    ours = KeywordIndex.build([f"c{n}" for n in range(len(texts))], texts, [""] * len(texts))
    theirs = bm25s.BM25()
    theirs.index([tokenize(t) for t in texts], show_progress=False)
    for query in ("kube-proxy", "aks dns timeout", "AADSTS70021 federated identity", "0x80180014 device", "nothing"):
        assert np.allclose(ours._bm25.get_scores(tokenize(query)), theirs.get_scores(tokenize(query)), atol=1e-6)
    assert len(ours._bm25.scores["data"]) == len(theirs.scores["data"])
