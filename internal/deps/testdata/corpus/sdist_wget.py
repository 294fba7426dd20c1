# category: sdist
# exit: 0
# stdout: archive.zip
import wget

print(wget.filename_from_url("https://example.com/files/archive.zip"))
