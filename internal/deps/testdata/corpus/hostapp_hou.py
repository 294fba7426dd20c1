# category: hostapp
# exit: 1
# stderr: Houdini
import hou

node = hou.node("/obj").createNode("geo")
