# category: drift
# exit: 0
# stdout: True
# stderr: pkg_resources was removed in setuptools 82
import pkg_resources

print(pkg_resources.parse_version("1.2") < pkg_resources.parse_version("1.10"))
