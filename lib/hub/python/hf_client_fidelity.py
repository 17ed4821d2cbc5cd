#!/usr/bin/env python3
"""Drives the official `huggingface_hub` client against Jikji's test Hub (lib/hub/mock_hub.ts).

Every call Jikji's users make from Python is made once and its result checked; the first failed
check exits 1 with its name. Run by lib/hub/mock_hub_trace.ts, which starts the test Hub with the
setup below (the repos it seeds, a read-only token, small multipart parts) and passes:

    HF_ENDPOINT        the test Hub
    HF_TOKEN           the write token of user "jikji"
    FIDELITY_READ_TOKEN  a token of user "reader" with no grants
    FIDELITY_WORK      a scratch folder
"""

import json
import os
import sys
from pathlib import Path

from huggingface_hub import (
    CommitOperationAdd,
    HfApi,
    hf_hub_download,
    snapshot_download,
)
from huggingface_hub.errors import (
    EntryNotFoundError,
    GatedRepoError,
    HfHubHTTPError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

ENDPOINT = os.environ["HF_ENDPOINT"]
WORK = Path(os.environ["FIDELITY_WORK"])
READER = os.environ["FIDELITY_READ_TOKEN"]
REPO = "jikji/fidelity"
BRANCH = "exp/lr-1e-4"
checks = []


def check(name, ok):
    checks.append(name)
    if not ok:
        print(json.dumps({"failed": name, "passed": checks[:-1]}))
        sys.exit(1)


def raises(exc, fn):
    try:
        fn()
    except exc:
        return True
    return False


def content(n, seed):
    """n deterministic bytes with NULs (binary, as a checkpoint is)."""
    return bytes((i * 7 + seed + (i >> 8)) % 251 if i % 5 else 0 for i in range(n))


def main():
    api = HfApi(endpoint=ENDPOINT)
    folder = WORK / "upload"
    (folder / "tok" / "sub").mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps({"architectures": ["LlamaForCausalLM"]}))
    (folder / "model.safetensors").write_bytes(content(3000, 1))
    (folder / "big.bin").write_bytes(content(20000, 2))  # above the test Hub's single-part limit
    (folder / "tok" / "tokenizer.json").write_text(json.dumps({"model": {"type": "BPE"}}))
    (folder / "tok" / "sub" / "vocab.txt").write_text("가\n나\n다\n")

    url = api.create_repo(REPO)
    check("create_repo without a type", url.repo_id == REPO)
    api.create_repo(REPO, exist_ok=True)
    check("create_repo exist_ok", True)
    check("create_repo again raises 409", raises(HfHubHTTPError, lambda: api.create_repo(REPO)))
    check("repo_exists", api.repo_exists(REPO))
    check("repo_exists of a missing repo", not api.repo_exists("jikji/missing"))

    info = api.upload_file(path_or_fileobj=b"# Fidelity\n", path_in_repo="README.md", repo_id=REPO)
    check("upload_file gives a commit id", len(info.oid) == 40)
    first = info.oid
    info = api.upload_folder(folder_path=folder, repo_id=REPO, commit_message="Upload folder")
    check("upload_folder (LFS basic and multipart)", len(info.oid) == 40 and info.oid != first)
    head = info.oid

    top = {f.path: type(f).__name__ for f in api.list_repo_tree(REPO)}
    check("list_repo_tree has folder entries", top.get("tok") == "RepoFolder")
    check("list_repo_tree non-recursive", "tok/tokenizer.json" not in top)
    deep = {f.path: f for f in api.list_repo_tree(REPO, recursive=True)}
    check(
        "list_repo_tree recursive (paginated)",
        {"config.json", "model.safetensors", "big.bin", "tok/sub/vocab.txt", "tok/sub"} <= set(deep),
    )
    check("LFS entries", deep["big.bin"].lfs is not None and deep["big.bin"].lfs.size == 20000)
    sub = [f.path for f in api.list_repo_tree(REPO, path_in_repo="tok")]
    check("list_repo_tree of a folder", sub == ["tok/sub", "tok/tokenizer.json"])
    check("file_exists", api.file_exists(REPO, "tok/sub/vocab.txt"))
    check("file_exists of a missing file", not api.file_exists(REPO, "nope.txt"))
    check("repo_info sha", api.repo_info(REPO).sha == head)

    cache = WORK / "cache"
    for name in ["config.json", "model.safetensors", "big.bin", "tok/sub/vocab.txt"]:
        path = hf_hub_download(REPO, name, cache_dir=cache)
        check(f"hf_hub_download {name}", Path(path).read_bytes() == (folder / name).read_bytes())
    check(
        "hf_hub_download of a missing file raises EntryNotFound",
        raises(EntryNotFoundError, lambda: hf_hub_download(REPO, "nope.txt", cache_dir=cache)),
    )
    check(
        "hf_hub_download at a missing revision raises RevisionNotFound",
        raises(
            RevisionNotFoundError,
            lambda: hf_hub_download(REPO, "config.json", revision="nope", cache_dir=cache),
        ),
    )

    api.create_branch(REPO, branch=BRANCH)
    api.upload_file(
        path_or_fileobj=b'{"lr": 1e-4}', path_in_repo="train.json", repo_id=REPO, revision=BRANCH
    )
    path = hf_hub_download(REPO, "train.json", revision=BRANCH, cache_dir=cache)
    check("a branch with '/'", Path(path).read_bytes() == b'{"lr": 1e-4}')
    check("the branch did not touch main", not api.file_exists(REPO, "train.json"))
    path = hf_hub_download(REPO, "config.json", revision=head, cache_dir=cache)
    check("a commit id as revision", Path(path).read_bytes() == (folder / "config.json").read_bytes())
    refs = api.list_repo_refs(REPO)
    check("list_repo_refs", sorted(b.name for b in refs.branches) == [BRANCH, "main"])
    api.create_tag(REPO, tag="v1", revision=head)
    path = hf_hub_download(REPO, "config.json", revision="v1", cache_dir=cache)
    check("a tag as revision", Path(path).exists())
    commits = api.list_repo_commits(REPO)
    check("list_repo_commits", [c.commit_id for c in commits][0] == head and len(commits) == 3)

    op = CommitOperationAdd(path_in_repo="late.txt", path_or_fileobj=b"late")
    check(
        "a commit on a stale parent is refused (412)",
        raises(
            HfHubHTTPError,
            lambda: api.create_commit(REPO, [op], commit_message="late", parent_commit=first),
        ),
    )
    pr = api.upload_file(
        path_or_fileobj=b"proposal", path_in_repo="proposal.txt", repo_id=REPO, create_pr=True
    )
    check("create_pr opens a pull request", pr.pr_url is not None and pr.pr_num == 1)
    check("create_pr leaves main alone", api.repo_info(REPO).sha == head)
    path = hf_hub_download(REPO, "proposal.txt", revision="refs/pr/1", cache_dir=cache)
    check("refs/pr/1 as revision", Path(path).read_bytes() == b"proposal")

    snap = Path(snapshot_download(REPO, local_dir=WORK / "snapshot", cache_dir=cache))
    for name in ["config.json", "model.safetensors", "big.bin", "tok/tokenizer.json"]:
        check(f"snapshot_download {name}", (snap / name).read_bytes() == (folder / name).read_bytes())

    anon = HfApi(endpoint=ENDPOINT, token=False)
    check("anonymous repo_info of a public repo", anon.repo_info("others/public").id == "others/public")
    path = hf_hub_download("others/public", "weights.safetensors", cache_dir=cache, token=False)
    check("anonymous download of a public LFS file", Path(path).stat().st_size == 4096)
    check("anonymous repo_exists of a private repo", not anon.repo_exists("others/private"))
    check(
        "a private repo is not found for another user",
        raises(RepositoryNotFoundError, lambda: api.repo_info("others/private")),
    )
    reader = HfApi(endpoint=ENDPOINT, token=READER)
    check("a gated repo exists", reader.repo_exists("others/gated"))
    check(
        "a gated file raises GatedRepoError",
        raises(
            GatedRepoError,
            lambda: hf_hub_download("others/gated", "config.json", cache_dir=cache, token=READER),
        ),
    )
    check(
        "a read token may not write (403)",
        raises(
            HfHubHTTPError,
            lambda: reader.upload_file(path_or_fileobj=b"x", path_in_repo="x", repo_id="reader/notes"),
        ),
    )
    print(json.dumps({"passed": checks}))


if __name__ == "__main__":
    main()
