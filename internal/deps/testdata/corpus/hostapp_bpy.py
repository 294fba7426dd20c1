# category: hostapp
# exit: 1
# stderr: bpy exists only inside Blender's own Python
import bpy

bpy.ops.mesh.primitive_cube_add(size=2)
