"""Articles are parsed into clean blocks: what chunking, search and answers read (issue 14)."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.documents import Document

from rag.answer.form import form_flags
from rag.ingest.chunking import chunk_article, chunk_body
from rag.ingest.markdown import blocks_of, clean_markdown
from rag.text.sentences import split_units

SHARED = Path(__file__).resolve().parents[3] / "shared" / "corpora"

DOCFX = """\
To use a static public IP address, you first need
to create a static type public IP address resource.
This public IP address resource should
be in the node resource group.

> [!NOTE]
> The [Azure CNI Overlay](./azure-cni-overlay.md) plugin<br>is the default.

[!INCLUDE [retirement](includes/retirement.md)]

:::zone pivot="windows"

| Setting | Description | Default |
|---|---|---|
| `scan-interval` | How often autoscaler reevaluates cluster<br>(see [docs](x.md)) | 10s |

CNI Plugin in AKS:

- Azure CNI assigns **VNet IPs** to pods.
- Kubenet uses a route table.

```bash
az aks nodepool add \\
    --os-type Windows \\
    --os-sku Windows2022
```

:::zone-end
"""

HUGO = """\
{{< feature-state for_k8s_version="v1.23" state="beta" >}}

A {{< glossary_tooltip text="Service" term_id="service" >}} routes traffic.

{{< note >}}
Pods on nodes with no endpoints see
zero endpoints.
{{< /note >}}

## {{% heading "whatsnext" %}}
"""


def test_docfx_markup_becomes_clean_blocks() -> None:
    """Hard-wrapped paragraphs join, links become their text, notes read "Note: …", includes and zone markers go,
    a table row becomes a record with its header names, and a code block stays whole."""
    blocks = blocks_of(clean_markdown(DOCFX))
    assert blocks[0] == (
        "To use a static public IP address, you first need to create a static type public IP address resource. "
        "This public IP address resource should be in the node resource group."
    )
    assert blocks[1] == "Note: The Azure CNI Overlay plugin is the default."
    assert (
        blocks[2]
        == "- `scan-interval` — Description: How often autoscaler reevaluates cluster (see docs); Default: 10s"
    )
    assert blocks[3:6] == [
        "CNI Plugin in AKS:",
        "- Azure CNI assigns VNet IPs to pods.",
        "- Kubenet uses a route table.",
    ]
    assert blocks[6].startswith("```bash\naz aks nodepool add \\\n") and blocks[6].endswith("Windows2022\n```")
    assert len(blocks) == 7


def test_hugo_shortcodes_are_resolved() -> None:
    text = clean_markdown(HUGO)
    assert "Feature state: beta since Kubernetes v1.23." in text
    assert "A Service routes traffic." in text
    assert "Note: Pods on nodes with no endpoints see zero endpoints." in text
    assert "## What's next" in text and "{{" not in text


def test_placeholders_in_angle_brackets_stay() -> None:
    """`<resource-group>`-style placeholders are words of the article, not HTML to remove."""
    assert clean_markdown("Replace <resource-group> with yours.<br>Then run it.") == (
        "Replace <resource-group> with yours. Then run it."
    )


def test_a_lead_in_moves_to_the_chunk_with_its_list() -> None:
    """A block ending in ':' is never the last block of a chunk when what it introduces follows."""
    body = "## Steps\n\n" + "First paragraph about the setup of things. " * 5 + "\n\nRun these commands:\n\n"
    body += "```bash\n" + "kubectl get pods -A\n" * 8 + "```\n"
    chunks = chunk_article(
        Document(page_content=clean_markdown(body), metadata={"article_id": "a", "title": "T", "source_path": "/a"}),
        320,
        0,
    )
    assert all(not chunk_body(c).rstrip().endswith(":") for c in chunks)
    assert any(chunk_body(c).startswith("Run these commands:\n```bash") for c in chunks)


def test_answer_form_flags_the_issue_examples() -> None:
    """The malformed answers of issue 14 are flagged; clean answers are not."""
    assert form_flags("No. kube-proxy is not a CNI plugin [1]. It maintains network rules on nodes [1].") == []
    assert form_flags("Check these settings: [1]\n- one [1]\n- two [1]") == []
    assert form_flags("Run: [1]\n```bash\nkubectl get pods\n```") == []
    assert "command split across lines" in form_flags("--os-type Windows \\ [1] az aks nodepool add \\ [1]")
    wrapped = form_flags("you first need [1] to create a static type public IP address resource. [1] It should [1]")
    assert any(f.startswith("starts mid-sentence") for f in wrapped) and any(f.startswith("cut off") for f in wrapped)
    assert "raw table row" in form_flags("| `scan-interval` | How often | CLI: <br>`az aks update`")
    assert "HTML tag" in form_flags("| `scan-interval` | How often | CLI: <br>`az aks update`")
    assert "raw Markdown link" in form_flags("See [Azure CNI Overlay](./azure-cni-overlay.md) [1].")
    assert "admonition or include markup" in form_flags("> [!NOTE]\n> Something [1]")
    assert any(f.startswith("lead-in") for f in form_flags("CNI Plugin in AKS: [2] Something else [2]."))
    assert any(f.startswith("cut off") for f in form_flags("`kube-proxy` is [2]"))
    assert "unbalanced backticks" in form_flags("Run `kubectl get pods [1].")
    assert "starts with a code block" in form_flags("```text\nError: x\n```\nThe fix is y. [2]")
    # A "```yaml" line inside a listing is its text, not a second fence (a page that forgot to close one).
    assert form_flags("Statuses are an array: [1]\n```yaml\na: 1\n```yaml\nb: 2\n```\nThe fix is y. [1]") == []
    assert "code block not closed" in form_flags("Run: [1]\n```yaml\na: 1\n```yaml\nb: 2")


@pytest.mark.skipif(not SHARED.is_dir(), reason="needs ../shared/corpora")
def test_no_raw_markup_survives_in_the_shared_docs() -> None:
    """Across the real AKS and Kubernetes pages, no answer unit carries raw links, HTML tags, table pipes,
    admonition or include markup."""
    from rag.ingest.loaders import discover, load_article

    bad = []
    for path in discover([SHARED]):
        for unit in split_units(load_article(path, 10_000_000).page_content):
            if unit.kind == "code":
                continue
            flags = {"raw Markdown link", "HTML tag", "raw table row", "admonition or include markup"}
            found = flags & set(form_flags(unit.text + " [1]"))
            if found:
                bad.append((path.name, sorted(found), unit.text[:120]))
    assert len(bad) <= 5, bad[:10]


def test_article_html_loads_nothing_external() -> None:
    """Remote images and links in an article reach neither the index nor an answer: images go, links become
    their text, HTML tags are removed (issue 20: the chat fetched external images and showed phishing links)."""
    text = clean_markdown(
        'See ![diagram](http://evil.example/pixel.png) and <img src="http://evil.example/a.png"> here.\n\n'
        '<a href="http://evil.example/login">Reset your password</a> or [the docs](https://evil.example/x).\n'
    )
    assert "evil.example" not in text and "<" not in text and "](" not in text
    assert "Reset your password" in text and "the docs" in text
