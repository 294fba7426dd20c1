# category: hostapp
# exit: 1
# stderr: maya.cmds exists only inside Autodesk Maya's own Python
import maya.cmds as cmds

cmds.polyCube()
