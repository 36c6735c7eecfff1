"""Long-video benchmark: probe + split + sample + count on a 30-minute 1280x720 H.264 file,
side by side with a plain PyAV decode, qwen-vl-utils `fetch_video` (decord, fps 2) and
PySceneDetect `detect(..., ContentDetector())` on the same file.

Each contender runs in its own fresh Python process (so peak RSS is its own); wall time is
measured inside that process. The video is generated once with PyAV and cached.

    .venv/bin/python tests/benchmarks/bench_long_video.py [--minutes 30] [--out bench_output/long]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

CONTENDERS = ["pyav_decode", "vidcurate", "qwen_vl_utils_fetch_video", "pyscenedetect"]


def generate(path: Path, minutes: float) -> None:
    from cluster.video.synth import scene_frames, write_video

    pattern = [7.0, 3.0, 12.0, 25.0, 5.0, 48.0]  # scene lengths (s), repeated to fill the time
    scenes, total = [], 0.0
    while total < minutes * 60:
        scenes.append(min(pattern[len(scenes) % len(pattern)], minutes * 60 - total))
        total += scenes[-1]
    write_video(path, scene_frames(1280, 720, 30, scenes, seed=1), 30, crf=30)


def pyav_decode(path: str) -> dict:
    import av

    with av.open(path) as c:
        stream = c.streams.video[0]
        stream.thread_type = "AUTO"
        return {"frames": sum(1 for _ in c.decode(stream))}


def vidcurate(path: str) -> dict:
    from local_inputs import access

    from cluster.stages.segment_stage import SegmentVideo
    from cluster.tokens.profiles import TokenProfile
    from cluster.tokens.sampling import plan_video
    from cluster.video.cuts import CutParams
    from cluster.video.shots import SplitSettings

    rows = SegmentVideo(SplitSettings("scenes", 2.0, 20.0, 2.0, CutParams()), access())({"uri": path, "input_index": 0})
    profile = TokenProfile(consumer="qwen-vl-utils")
    tokens = 0
    for row in rows:
        if row["status"] == "ok":
            n = row["end_frame"] - row["start_frame"]
            p = row["probe"]
            tokens += plan_video(
                n, n / row["duration_s"], p["display_height"], p["display_width"], profile
            ).count.pad_tokens
    return {"segments": len(rows), "video_pad_tokens": tokens, "status": sorted({r["status"] for r in rows})}


def qwen_vl_utils_fetch_video(path: str) -> dict:
    os.environ["FORCE_QWENVL_VIDEO_READER"] = "decord"
    from qwen_vl_utils import fetch_video

    video = fetch_video({"video": path, "fps": 2.0})
    return {"shape": list(video.shape)}


def pyscenedetect(path: str) -> dict:
    from scenedetect import ContentDetector, detect

    return {"scenes": len(detect(path, ContentDetector()))}


def child(name: str, path: str) -> None:
    start = time.perf_counter()
    result = globals()[name](path)
    wall = time.perf_counter() - start
    print(json.dumps({"contender": name, "wall_s": wall, "peak_rss_mb": _peak_rss_mb(), "result": result}))


def _peak_rss_mb() -> float:
    """This process's own high-water RSS. (getrusage's ru_maxrss survives exec, so a child
    would report its parent's footprint at fork time.)"""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("/proc/self/status has no VmHWM")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--out", default="bench_output/long")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(*args.child)
    path = Path(args.out) / f"long_{args.minutes:g}min_720p.mp4"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        t = time.perf_counter()
        generate(path, args.minutes)
        print(f"generated {path} in {time.perf_counter() - t:.0f}s")
    results = {}
    for name in CONTENDERS:
        proc = subprocess.run(
            [sys.executable, __file__, "--child", name, str(path)], check=False, capture_output=True, text=True
        )
        lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
        results[name] = json.loads(lines[-1]) if proc.returncode == 0 and lines else {"error": proc.stderr[-500:]}
        print(json.dumps(results[name]))
    base = results["pyav_decode"]["wall_s"]
    print(f"\n{'contender':28s} {'wall s':>8s} {'x decode':>9s} {'peak RSS MB':>12s}")
    for name, r in results.items():
        if "wall_s" in r:
            print(f"{name:28s} {r['wall_s']:8.1f} {r['wall_s'] / base:9.2f} {r['peak_rss_mb']:12.0f}")
        else:
            print(f"{name:28s} failed: {r['error'][-200:]}")


if __name__ == "__main__":
    sys.path[:0] = [str(Path(__file__).resolve().parents[2]), str(Path(__file__).resolve().parents[1])]
    main()
