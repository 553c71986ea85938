"""Reading stored files back (shared.checkpoint.load_file / read_json)."""
import json
import pathlib
import zipfile

import pytest
import torch

from shared.checkpoint import CorruptFileError, atomic_save, load_file, read_json


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "c.pt"
    atomic_save({"w": torch.arange(3000, dtype=torch.float32), "step": 7}, path)
    return path


def test_every_cut_of_an_archive_is_named_corrupt(saved):
    whole = saved.read_bytes()
    cut = saved.with_name("cut.pt")
    # cuts past the first pages made torch.load raise a bare OSError (EINVAL)
    for size in (64, 4096, len(whole) // 2, len(whole) - 100, len(whole) - 10, len(whole) - 1):
        cut.write_bytes(whole[:size])
        with pytest.raises(CorruptFileError, match=f"Cannot read {cut}.*delete it"):
            load_file(cut)
    assert load_file(saved)["step"] == 7


def test_changed_bytes_fail_the_crc_instead_of_loading(saved):
    with zipfile.ZipFile(saved) as archive:
        info = next(i for i in archive.infolist() if i.filename.endswith("data/0"))
    raw = bytearray(saved.read_bytes())
    # the tensor's bytes follow the local header (30 bytes, then name and extra field,
    # whose lengths the header holds at offsets 26 and 28)
    at = info.header_offset
    name_len, extra_len = (int.from_bytes(raw[at + o:at + o + 2], "little") for o in (26, 28))
    start = at + 30 + name_len + extra_len
    raw[start + 40] ^= 0xFF
    saved.write_bytes(bytes(raw))
    with pytest.raises(CorruptFileError, match=r"Bad CRC-32 for file '.*data/0'"):
        load_file(saved)


def test_weights_only_refusal_is_not_called_corruption(tmp_path):
    path = tmp_path / "p.pt"
    atomic_save({"where": pathlib.PurePosixPath("/tmp/x")}, path)
    with pytest.raises(ValueError, match="weights_only=True.*pass weights_only=False"):
        load_file(path)
    assert load_file(path, weights_only=False)["where"] == pathlib.PurePosixPath("/tmp/x")


def test_missing_file_is_not_called_corrupt(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_file(tmp_path / "none.pt")


def test_read_json_names_bytes_that_are_not_utf8(tmp_path):
    path = tmp_path / "config.json"
    path.write_bytes(b'{"a": "\xff"}')
    with pytest.raises(CorruptFileError, match=f"Cannot read {path}: UnicodeDecodeError"):
        read_json(path)


def test_json_is_written_strict(tmp_path):
    import json

    from shared.checkpoint import atomic_write_json

    path = tmp_path / "results.json"
    atomic_write_json(path, {"best_loss": float("inf"), "runs": [{"loss": float("nan")}, 1.5],
                             "pair": (float("-inf"), 2)})
    text = path.read_text()
    assert "Infinity" not in text and "NaN" not in text
    strict = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-JSON token {c}"))
    assert strict == {"best_loss": None, "runs": [{"loss": None}, 1.5], "pair": [None, 2]}


def test_config_that_is_not_an_object_is_named(tmp_path):
    path = tmp_path / "config.json"
    path.write_text("[1, 2]")
    assert read_json(path) == [1, 2]
    with pytest.raises(CorruptFileError, match=f"Cannot read {path}: TypeError: it holds "
                                               "list where an object belongs"):
        read_json(path, expect=dict)


def test_archives_saved_without_crcs_load(tmp_path):
    # torch.utils.serialization.config.save.compute_crc32 = False writes every CRC as 0
    # (torch >= 2.5; older torch cannot write such archives, so there is nothing to load)
    config = pytest.importorskip("torch.utils.serialization").config

    path = tmp_path / "fast.pt"
    config.save.compute_crc32 = False
    try:
        atomic_save({"w": torch.arange(10)}, path)
    finally:
        config.save.compute_crc32 = True
    with zipfile.ZipFile(path) as archive:
        assert all(m.CRC == 0 for m in archive.infolist() if m.file_size)
    assert torch.equal(load_file(path)["w"], torch.arange(10))


def test_os_error_on_a_whole_archive_is_not_called_corruption(saved, monkeypatch):
    def too_many_files(*a, **k):
        raise OSError(24, "Too many open files")

    monkeypatch.setattr(torch, "load", too_many_files)
    with pytest.raises(OSError, match="Too many open files") as err:
        load_file(saved)
    assert not isinstance(err.value, CorruptFileError)


def test_json_lines_skip_blanks_leave_out_a_torn_tail_and_name_a_bad_line(tmp_path):
    from shared.checkpoint import CorruptFileError, read_json_lines

    path = tmp_path / "records.jsonl"
    path.write_text('{"a": 1}\n\n{"a": 2}\n{"a": ')
    assert read_json_lines(path) == ([{"a": 1}, {"a": 2}], True)
    path.write_bytes(b'{"a": 1}\n{"a": "\xc3')  # torn inside a UTF-8 character
    assert read_json_lines(path) == ([{"a": 1}], True)
    path.write_text('{"a": 1}\n{"a": 2}\n')
    assert read_json_lines(path) == ([{"a": 1}, {"a": 2}], False)
    path.write_text('{"a": 1}\n{"a": 2}')  # whole, only its newline missing: kept
    assert read_json_lines(path) == ([{"a": 1}, {"a": 2}], False)
    path.write_text('{"a": 1}\n\n')
    assert read_json_lines(path) == ([{"a": 1}], False)
    for content, line in ((b'{"a": 1}\n{"a": \n{"a": 2}\n', 2),
                          (b'{"a": 1}\n\n{"a": \n', 3),  # newline-ended: damage, not a tear
                          (b'{"a": 1}\n\xff\n', 2)):
        path.write_bytes(content)
        with pytest.raises(CorruptFileError, match=f"Cannot read {path}: line {line}: .*; delete that line"):
            read_json_lines(path)
    path.write_bytes(b'{"a": 1}\n\xff\xfe\n')
    with pytest.raises(CorruptFileError, match="line 2: not UTF-8 text"):
        read_json_lines(path)


def test_json_lines_check_names_the_record_that_fails_it(tmp_path):
    from shared.checkpoint import CorruptFileError, read_json_lines, require_keys

    path = tmp_path / "records.jsonl"
    path.write_text('{"a": 1, "b": 2}\n\n[1]\n')
    check = require_keys("a", "b", what="pair")
    with pytest.raises(CorruptFileError, match=r"line 3: not a pair \(a JSON object\); fix it"):
        read_json_lines(path, fix="fix it", check=check)
    path.write_text('{"a": 1, "b": 2}\n{"b": 2}\n{"a": ')
    with pytest.raises(CorruptFileError, match=r"line 2: not a pair \(no a\)"):
        read_json_lines(path, check=check)
    path.write_text('{"a": 1, "b": 2}\n{"b": 2')  # a torn record is not checked
    assert read_json_lines(path, check=check) == ([{"a": 1, "b": 2}], True)


@pytest.mark.parametrize("content, after, cut", [
    (b'{"a": 1}\n{"a": ', b'{"a": 1}\n', True),
    (b'{"a": ', b'', True),
    (b'{"a": 1}\n{"a": 2}', b'{"a": 1}\n{"a": 2}\n', False),  # whole: ended, not cut
    (b'{"a": 1}\n', b'{"a": 1}\n', False),
    (b'{"a": 1}\n  ', b'{"a": 1}\n', False),
    (b'', b'', False),
])
def test_drop_torn_tail_leaves_the_file_ready_for_the_next_record(tmp_path, content, after, cut):
    from shared.checkpoint import drop_torn_tail, read_json_lines

    path = tmp_path / "records.jsonl"
    path.write_bytes(content)
    assert drop_torn_tail(path) is cut
    assert path.read_bytes() == after
    with open(path, "a") as f:
        f.write('{"b": 3}\n')
    kept = [json.loads(line) for line in after.splitlines() if line.strip()]
    assert read_json_lines(path) == (kept + [{"b": 3}], False)  # nothing joined, nothing lost
    assert not drop_torn_tail(tmp_path / "missing.jsonl")
    assert not (tmp_path / "missing.jsonl").exists()


def test_drop_torn_tail_opens_a_whole_file_for_reading_only(tmp_path, monkeypatch):
    """A run that appends nothing (every seed recorded) may keep its records read-only."""
    import builtins

    import shared.checkpoint as checkpoint

    def read_only(path, mode="r", *args, **kwargs):
        if "+" in mode or "w" in mode or "a" in mode:
            raise PermissionError(13, "Permission denied", str(path))
        return builtins.open(path, mode, *args, **kwargs)

    path = tmp_path / "records.jsonl"
    path.write_text('{"a": 1}\n')
    monkeypatch.setattr(checkpoint, "open", read_only, raising=False)
    assert not checkpoint.drop_torn_tail(path)
    path.write_text('{"a": 1}\n{"a": ')
    with pytest.raises(PermissionError):  # a torn one must be cut: that needs writing
        checkpoint.drop_torn_tail(path)


@pytest.mark.parametrize("message, damage", [
    ("Attempting to deserialize object on a CUDA device but torch.cuda.is_available() is False",
     False),
    ("PytorchStreamReader failed reading zip archive: failed finding central directory", True),
])
def test_runtime_errors_are_damage_only_when_they_are_the_archive_s(saved, monkeypatch,
                                                                    message, damage):
    """A device that is not there passes through (rlrep would otherwise skip a good
    checkpoint as damaged); torch's zip reader failing is damage, named with the fix."""
    def failing(*a, **k):
        raise RuntimeError(message)

    monkeypatch.setattr(torch, "load", failing)
    with pytest.raises(RuntimeError) as err:
        load_file(saved)
    assert isinstance(err.value, CorruptFileError) is damage
    assert (f"Cannot read {saved}" in str(err.value)) is damage


def test_new_directories_are_synced_into_their_parents(tmp_path, monkeypatch):
    """A write into directories it creates syncs each new directory's parent, outermost
    first, then the target's directory after the rename, so the whole path survives a crash."""
    import shared.checkpoint as checkpoint

    (tmp_path / "runs").mkdir()
    synced = []
    monkeypatch.setattr(checkpoint, "_fsync_dir", lambda d: synced.append(pathlib.Path(d)))
    target = tmp_path / "runs" / "a" / "b" / "config.json"
    checkpoint.atomic_write_json(target, {"x": 1})
    assert read_json(target) == {"x": 1}
    runs = tmp_path / "runs"
    assert synced == [runs, runs / "a", runs / "a" / "b"]
    synced.clear()
    checkpoint.atomic_write_json(target, {"x": 2})  # nothing new: the rename's directory only
    assert synced == [runs / "a" / "b"]
