# category: sdist
# exit: 1
# stderr: portaudio
import pyaudio

p = pyaudio.PyAudio()
print(p.get_device_count())
