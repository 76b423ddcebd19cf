"""Stage `package`: import the model of every role in ``serve.models`` (the registry's
``@alias`` versions) into the BentoML store, build the service bento and export it."""

import argparse
from pathlib import Path

from scalpvision.config import load_params
from scalpvision.entry import run_main
from scalpvision.ops.packaging import package, write_info
from scalpvision.ops.tracking import repo_root, setup_mlflow


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--params", default="params.yaml")
    args = ap.parse_args()
    P = load_params(args.params)
    setup_mlflow(P.tracking)
    s = P.serve
    info = package(P, repo_root())
    write_info(info, Path("metrics/package.json"))
    print(f"bento {info['bento']} -> {info['export']} ({len(s.models)} models)")
    print(f"serve it: {info['serve']}")


if __name__ == "__main__":
    run_main(main)
