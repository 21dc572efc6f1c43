# focusrig's virtual-Pico hooks, compiled into the project's MicroPython v1.28.0 unix build
# (tools/build_micropython.py passes USER_C_MODULES=host_tools/focusrig/virtual_pico/cmod).
VPHOOK_DIR := $(USERMOD_DIR)
SRC_USERMOD_C += $(VPHOOK_DIR)/vphook.c
CFLAGS_USERMOD += -I$(VPHOOK_DIR)
