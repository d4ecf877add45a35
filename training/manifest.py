"""Record the current sha256 of every data file in a training config (run on purpose when data changes).

    python training/manifest.py training/configs/default.yaml
"""

import re
import sys
from pathlib import Path

from modcls.training.config import TrainingConfig, sha256_file


def update(config_path: Path) -> None:
    config = TrainingConfig.from_file(config_path)
    text = config_path.read_text(encoding="utf-8")
    for item in config.data:
        for key, rel in (("sha256", item.path), ("text_from_sha256", item.text_from)):
            if rel is None:
                continue
            digest = sha256_file(config.resolve(rel))
            anchor = "path: " if key == "sha256" else "text_from: "
            pattern = re.compile(rf"({re.escape(anchor + rel)}\n(?:.*\n)*?\s*{key}: )\"?[0-9a-f]*\"?")
            text, n = pattern.subn(rf"\g<1>{digest}", text, count=1)
            if n != 1:
                raise SystemExit(f"{config_path}: no {key} line after {anchor}{rel}")
    config_path.write_text(text, encoding="utf-8")
    print(f"updated {len(config.data)} entries in {config_path}")


if __name__ == "__main__":
    update(Path(sys.argv[1]))
