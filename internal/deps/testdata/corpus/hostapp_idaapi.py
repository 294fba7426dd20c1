# category: hostapp
# exit: 1
# stderr: IDA Pro
import idaapi
import idc

print(idc.get_screen_ea())
