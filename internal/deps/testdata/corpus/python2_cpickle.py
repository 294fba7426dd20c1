# category: python2
# exit: 1
# stderr: cPickle is a Python 2 module; in Python 3 use pickle
import cPickle as pickle

print(pickle.dumps([1, 2]))
