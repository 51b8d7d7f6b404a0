"""`promtool check config` accepts deploy/prometheus.yml.

Run by ctest with /usr/bin/python3. Fails (does not skip) when promtool is
missing: apt-get install prometheus, or scripts/install_deps.sh.
"""

import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import quantd_process  # noqa: E402

SOURCE_DIR = quantd_process.required_env("QUANTD_SOURCE_DIR")


class PromtoolCheckConfigTest(unittest.TestCase):
    def test_deploy_prometheus_yml(self):
        promtool = shutil.which("promtool")
        self.assertIsNotNone(promtool, "promtool is missing: apt-get install prometheus "
                             "(scripts/install_deps.sh installs it)")
        config = os.path.join(SOURCE_DIR, "deploy", "prometheus.yml")
        done = subprocess.run([promtool, "check", "config", config],
                              capture_output=True, text=True, timeout=30)
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        self.assertIn("SUCCESS", done.stdout + done.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
