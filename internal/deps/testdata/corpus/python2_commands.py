# category: python2
# exit: 1
# stderr: commands is a Python 2 module; in Python 3 use subprocess
import commands

print(commands.getoutput("echo hi"))
