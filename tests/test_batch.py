"""The derain batch planner: output names and the refusals made before any work."""

from pathlib import Path

from sapnet.engine.infer.batch import Job, OutputClaims, plan_jobs


def test_outputs_keep_the_name_and_a_format_pillow_can_write(tmp_path):
    sources = [Path("in/a.jpg"), Path("in/b.heic"), Path("in/c"), Path("in/clip.mp4")]
    jobs = plan_jobs(sources, [Path("in/frames")], tmp_path, None)
    assert [(job.kind, job.target.name) for job in jobs] == [
        ("image", "a.jpg"), ("image", "b.png"), ("image", "c.png"), ("video", "clip.mp4"), ("sequence", "frames"),
    ]  # fmt: skip
    assert [job.target.name for job in plan_jobs(sources[:1], [], tmp_path, "webp")] == ["a.webp"]


def test_an_input_is_never_an_output_and_a_written_name_is_not_written_twice(tmp_path):
    photo = tmp_path / "a.png"
    photo.write_bytes(b"")
    into_itself = Job(photo, "image", photo)
    first, second = Job(Path("x/b.png"), "image", tmp_path / "b.png"), Job(Path("y/b.jpg"), "image", tmp_path / "b.png")
    claims = OutputClaims([into_itself, first, second], tmp_path, overwrite=True)
    assert "is an input file" in claims.refusal(into_itself)
    assert claims.refusal(first) is None and claims.refusal(second) is None  # nothing written yet
    claims.claim(first)
    assert "already written by another input" in claims.refusal(second) and claims.written == 1


def test_an_existing_output_is_kept_unless_overwrite_but_a_frame_folder_resumes(tmp_path):
    (tmp_path / "b.png").write_bytes(b"kept")
    (tmp_path / "frames").mkdir()
    photo, frames = Job(Path("in/b.png"), "image", tmp_path / "b.png"), Job(Path("in/frames"), "sequence", tmp_path / "frames")
    kept = OutputClaims([photo, frames], tmp_path, overwrite=False)
    assert kept.refusal(photo) == f"in/b.png: output {tmp_path / 'b.png'} exists (pass --overwrite to replace it)"
    assert kept.refusal(frames) is None
    assert OutputClaims([photo], tmp_path, overwrite=True).refusal(photo) is None
