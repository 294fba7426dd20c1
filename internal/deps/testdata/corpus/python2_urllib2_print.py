# category: python2
# exit: 1
# stderr: this is Python 2 code (the print statement
import urllib2

response = urllib2.urlopen("http://example.com/")
print response.read()
