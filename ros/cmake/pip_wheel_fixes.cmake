# Injected with -DCMAKE_PROJECT_INCLUDE=... by scripts/build_ros_interfaces.sh when building
# interface packages against the ROS 2 PyPI wheels (not needed with a normal ROS install).
#
# The wheels' exported CMake targets name include folders of the manylinux image they were
# built in (/opt/python/cp3XX-cp3XX/include/python3.X and that image's numpy include folder).
# CMake refuses to generate when an imported target's INTERFACE_INCLUDE_DIRECTORIES holds a
# path that does not exist. At the end of the top-level CMakeLists we replace every such
# path on every imported target by the Python and numpy include folders of the venv's
# interpreter, so nothing outside the venv has to be created.

function(_robomem_fix_wheel_include_dirs)
  find_package(Python3 REQUIRED COMPONENTS Interpreter Development.Module NumPy)
  set(_real ${Python3_INCLUDE_DIRS} ${Python3_NumPy_INCLUDE_DIRS})
  get_directory_property(_targets DIRECTORY "${CMAKE_SOURCE_DIR}" IMPORTED_TARGETS)
  foreach(_t IN LISTS _targets)
    get_target_property(_dirs ${_t} INTERFACE_INCLUDE_DIRECTORIES)
    if(NOT _dirs)
      continue()
    endif()
    set(_new "")
    set(_changed FALSE)
    foreach(_d IN LISTS _dirs)
      if(_d MATCHES "^/opt/python/" AND NOT EXISTS "${_d}")
        set(_changed TRUE)
        list(APPEND _new ${_real})
      else()
        list(APPEND _new "${_d}")
      endif()
    endforeach()
    if(_changed)
      list(REMOVE_DUPLICATES _new)
      set_target_properties(${_t} PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${_new}")
    endif()
  endforeach()
endfunction()

cmake_language(DEFER DIRECTORY "${CMAKE_SOURCE_DIR}" CALL _robomem_fix_wheel_include_dirs)
