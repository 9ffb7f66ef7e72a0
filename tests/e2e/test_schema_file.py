#!/usr/bin/env python3
"""The committed sql/generated/schema.sql is what a fresh database has after the migrations.

Runs scripts/schema-dump --check with the build under test: a migration changed without
regenerating the file fails here, with the difference and the command that fixes it.
"""
import subprocess
import sys
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
import koers_e2e as k  # noqa: E402


def main():
    k.require_env()
    c = k.Checks("test_schema_file")
    r = subprocess.run([str(k.repo_dir() / "scripts" / "schema-dump"), "--check", "--bin",
                        str(k.bin_dir())], capture_output=True, text=True, timeout=300)
    c.ok("sql/generated/schema.sql equals the schema of a freshly migrated database",
         r.returncode == 0, "exit 0", f"exit {r.returncode}\n{r.stderr}")
    lines = (k.repo_dir() / "sql" / "generated" / "schema.sql").read_text().splitlines()
    c.ok("the schema file holds the v2 measure functions",
         any("FUNCTION koers.window_measures(" in x for x in lines), "window_measures", "")
    c.finish()


if __name__ == "__main__":
    main()
