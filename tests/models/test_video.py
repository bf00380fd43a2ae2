"""Real H.264 decoding: frame-exact random access and the clip facts."""
from __future__ import annotations

import numpy as np
import pytest

from models.errors import VideoError
from models.video import VideoReader, content_hash, list_videos, probe


@pytest.fixture(scope="module")
def sequential(request):
    from tests.conftest import CLIPS

    with VideoReader(CLIPS / "arm_wrestling.mp4") as reader:
        return [f.copy() for _, f in reader.frames()]


def test_probe_reads_real_properties(clip):
    info = probe(clip("two_people_room.mp4"))
    assert (info.width, info.height, info.frame_count) == (1920, 1080, 72)
    assert 27.5 < info.fps < 28.5
    assert info.duration == pytest.approx(72 / info.fps)


def test_random_seeks_match_sequential_decode(clip, sequential):
    assert len(sequential) == 280
    order = [200, 3, 279, 150, 151, 100, 0, 260, 17, 99]
    with VideoReader(clip("arm_wrestling.mp4")) as reader:
        for i in order:
            assert np.array_equal(reader.read(i), sequential[i]), f"frame {i} differs"


def test_neighbouring_frames_differ_so_exactness_is_meaningful(sequential):
    same = sum(np.array_equal(a, b) for a, b in zip(sequential, sequential[1:]))
    assert same < len(sequential) // 20


def test_read_outside_range_is_a_clear_error(clip):
    with VideoReader(clip("street_pedestrians.mp4")) as reader:
        with pytest.raises(VideoError, match="outside 0..4"):
            reader.read(5)


def test_content_hash_depends_on_bytes_not_name(clip, tmp_path):
    src = clip("street_pedestrians.mp4")
    copy = tmp_path / "renamed clip ü.mp4"
    copy.write_bytes(src.read_bytes())
    assert content_hash(copy) == content_hash(src)
    data = bytearray(copy.read_bytes())
    data[-1] ^= 0xFF
    copy.write_bytes(bytes(data))
    assert content_hash(copy) != content_hash(src)


def test_list_videos_finds_the_clips(clips_dir):
    names = [p.name for p in list_videos(clips_dir)]
    assert names == sorted(["arm_wrestling.mp4", "basketball_gym.mp4", "basketball_dribble_portrait.mp4",
                            "closeup_makeup.avi", "street_pedestrians.mp4", "tai_chi.mp4",
                            "two_people_courtyard_portrait.mp4", "two_people_room.mp4",
                            "weightlifting_clean_and_jerk.mp4"])


@pytest.mark.parametrize("make, message", [
    (lambda d: d / "missing.mp4", "not found"),
    (lambda d: (d / "notes.txt").write_text("x") and d / "notes.txt", "Unsupported file type"),
    (lambda d: (d / "fake.mp4").write_text("hello, not a video") and d / "fake.mp4", "decode"),
    (lambda d: (d / "empty.mp4").write_bytes(b"") or d / "empty.mp4", "empty"),
])
def test_bad_files_raise_one_line_errors(tmp_path, make, message):
    with pytest.raises(VideoError, match=message) as err:
        VideoReader(make(tmp_path))
    assert "\n" not in str(err.value)


def test_read_scaled_down_is_the_same_frame_at_the_asked_size(clip, sequential):
    import cv2

    with VideoReader(clip("arm_wrestling.mp4")) as reader:
        full_w, full_h = reader.full_size
        assert (full_w, full_h) == (sequential[0].shape[1], sequential[0].shape[0])
        for i in (0, 40, 41, 200, 3):
            small = reader.read(i, (full_w // 3, full_h // 3))
            want = cv2.resize(sequential[i], (small.shape[1], small.shape[0]),
                              interpolation=cv2.INTER_NEAREST)
            assert small.shape[:2] == (round(full_h / 3), round(full_w / 3))
            assert np.array_equal(small, want), f"frame {i} differs"
            bgrx = reader.read(i, (full_w // 3, full_h // 3), bgrx=True)   # same frame again
            assert bgrx.shape == small.shape[:2] + (4,)
            assert np.array_equal(bgrx[..., 2::-1], small) and (bgrx[..., 3] == 255).all()
            assert np.array_equal(reader.read(i), sequential[i])   # full size on request
        assert reader.read(5, (10 ** 4, 10 ** 4)).shape == sequential[5].shape  # never enlarged


def test_reduced_size_keeps_aspect_and_never_enlarges():
    from models.video import reduced_size

    assert reduced_size(1920, 1080, (960, 900)) == (960, 540)
    assert reduced_size(1920, 1080, (3000, 540)) == (960, 540)
    assert reduced_size(1920, 1080, (1920, 1080)) is None
    assert reduced_size(1920, 1080, None) is None
    assert reduced_size(1000, 10, (1, 1)) == (1, 1)
