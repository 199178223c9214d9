# CMake package for goray: find_package(ray CONFIG REQUIRED) with CMAKE_PREFIX_PATH=<dist>, then
# target_link_libraries(app PRIVATE ray::api).
get_filename_component(_ray_prefix "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)
if(NOT TARGET ray::api)
  add_library(ray::api SHARED IMPORTED)
  set_target_properties(ray::api PROPERTIES
    IMPORTED_LOCATION "${_ray_prefix}/lib/libray_api.so"
    INTERFACE_INCLUDE_DIRECTORIES "${_ray_prefix}/include"
    INTERFACE_COMPILE_FEATURES cxx_std_17)
endif()
set(ray_INCLUDE_DIRS "${_ray_prefix}/include")
set(ray_LIBRARIES ray::api)
set(ray_FOUND TRUE)
unset(_ray_prefix)
