# category: sdist
# exit: 1
# stderr: cannot install pyaudio: building it needs
import pyaudio

p = pyaudio.PyAudio()
print(p.get_device_count())
