# category: bug
# exit: 0
# stdout: 3 files, 1.0 MB
import humanize

msg = ("%d files"
       % 3)
print(msg + ",", humanize.naturalsize(10**6))
