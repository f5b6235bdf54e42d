// slimrt/version.h
#pragma once

#define SLIMRT_VERSION_MAJOR 0
#define SLIMRT_VERSION_MINOR 1
#define SLIMRT_VERSION_PATCH 0
#define SLIMRT_VERSION_STRING "0.1.0"
