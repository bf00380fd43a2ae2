"""No literal joint count: the number of joints comes from the skeleton definition
(``blazepose().n``, ``skeleton_of(track.skeleton).n``), never from a typed 33.

The check reads the code's tokens (comments and strings are prose, not code): every integer
literal 33 in models/, app/, widgets/, cli/ and main.py is reported unless it is listed
below as meaning something else."""
from __future__ import annotations

import io
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
JOINT_COUNT = "33"
# file -> names the literal may be assigned to there (it means something else)
NOT_JOINTS = {"widgets/rate.py": ("PLAYING_INTERVAL_MS",)}


def literal_counts(text: str, allowed: tuple = ()) -> list[tuple[int, str]]:
    """(line, source line) of every integer token equal to the joint count in ``text``,
    except an assignment ``NAME = 33`` to a name in ``allowed``."""
    out = []
    tokens = [t for t in tokenize.generate_tokens(io.StringIO(text).readline)
              if t.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT,
                                tokenize.INDENT, tokenize.DEDENT)]
    for k, tok in enumerate(tokens):
        if tok.type != tokenize.NUMBER or tok.string.replace("_", "") != JOINT_COUNT:
            continue
        before = tokens[k - 2:k]
        if (len(before) == 2 and before[1].string == "=" and before[0].string in allowed):
            continue
        out.append((tok.start[0], tok.line.strip()))
    return out


def sources():
    for top in ("models", "app", "widgets", "cli"):
        yield from sorted((ROOT / top).rglob("*.py"))
    yield ROOT / "main.py"


def test_no_literal_joint_count_in_the_code():
    found = []
    for path in sources():
        rel = path.relative_to(ROOT).as_posix()
        for line, text in literal_counts(path.read_text(encoding="utf-8"),
                                         NOT_JOINTS.get(rel, ())):
            found.append(f"{rel}:{line}: {text}")
    assert not found, "joint count typed as a literal (use the skeleton's .n):\n" + \
        "\n".join(found)


def test_the_check_finds_the_shapes_it_is_meant_to_find():
    bad = ["x = np.full((frames, 33, 4), np.nan)", "if img.shape[1] != 33:",
           "ok = w.shape[1] == 33", "feet = seen[:, 27:33]", "N_JOINTS = 33",
           "def empty(cls, frames, joints=33): pass"]
    for line in bad:
        assert literal_counts(line + "\n"), line
    fine = ["x = 0.33", "y = 330", "# a (33, 4) array", "s = 'BlazePose-33'",
            '"""(frames, 33, 4) landmarks"""', "PLAYING_INTERVAL_MS = 33"]
    for line in fine[:-1]:
        assert not literal_counts(line + "\n"), line
    assert literal_counts(fine[-1] + "\n")  # only where listed does it mean milliseconds
    assert not literal_counts(fine[-1] + "\n", ("PLAYING_INTERVAL_MS",))


def test_an_empty_track_has_its_skeletons_joint_count():
    from models.pose.people import skeleton_of
    from models.pose.skeleton import BLAZEPOSE_N, blazepose
    from models.pose.track import PoseTrack

    assert PoseTrack.empty(2, fps=25.0, width=4, height=4).image.shape == (2, blazepose().n, 4)
    coco = PoseTrack.empty(3, skeleton="coco17", fps=25.0, width=4, height=4)
    assert coco.image.shape == coco.world.shape == (3, skeleton_of("coco17").n, 4)
    assert PoseTrack.empty(1, 5, fps=1.0, width=4, height=4).image.shape == (1, 5, 4)
    assert BLAZEPOSE_N == blazepose().n
