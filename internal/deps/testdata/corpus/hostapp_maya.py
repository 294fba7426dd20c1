# category: hostapp
# exit: 1
# stderr: maya exists only inside Autodesk Maya's own Python
import maya.cmds as cmds

cmds.polyCube()
